// Live progress for a catalogue upload: polls the JSON status endpoint and updates the bars in place.
// When the upload changes stage (analysed, imported, refused…) the page reloads once to show the
// new section. Without JavaScript a <noscript> meta refresh does the same job.
(function () {
  "use strict";
  var root = document.getElementById("upload");
  if (!root) return;
  var url = root.dataset.statusUrl;
  var shownStatus = root.dataset.status;

  function setBar(bar, percent) {
    if (!bar) return;
    bar.setAttribute("aria-valuenow", String(percent));
    var fill = bar.querySelector("span");
    if (fill) fill.style.width = percent + "%";
  }

  function setField(scope, name, value) {
    var el = scope.querySelector('[data-field="' + name + '"]');
    if (el) el.textContent = value;
  }

  function render(data) {
    if (data.status !== shownStatus) {
      window.location.reload();
      return false;
    }
    setField(root, "status_label", data.status_label);
    setField(root, "analysis_percent", data.analysis.percent);
    setField(root, "analysis_done", data.analysis.done);
    setField(root, "analysis_total", data.analysis.total);
    setBar(root.querySelector('[data-bar="analysis"]'), data.analysis.percent);
    setField(root, "import_percent", data.import.percent + "%");
    setField(root, "import_done", data.import.done);
    setField(root, "import_total", data.import.total);
    setBar(root.querySelector('[data-bar="import"]'), data.import.percent);
    var rendered = root.querySelectorAll("tr[data-space]").length;
    if (data.embeddings.length !== rendered) {
      window.location.reload();
      return false;
    }
    data.embeddings.forEach(function (row) {
      var tr = root.querySelector('tr[data-space="' + row.space + '"]');
      if (!tr) return;
      setField(tr, "done", row.done);
      setField(tr, "percent", row.percent);
      setField(tr, "failed", row.failed);
      setBar(tr.querySelector(".progress"), row.percent);
    });
    return !data.settled;
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (data) {
        if (render(data)) window.setTimeout(poll, 1000);
      })
      .catch(function () {
        window.setTimeout(poll, 5000);
      });
  }

  if (root.dataset.settled !== "1") window.setTimeout(poll, 1000);
})();

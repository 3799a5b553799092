// Live progress for a catalogue upload: polls the upload's JSON status and updates the bars in place.
// When the upload changes stage (analysed, imported, refused…) the page reloads once to show the
// new section. Without JavaScript a <noscript> meta refresh does the same job.
// Once imported, the embedding progress of the upload's products comes from the embeddings app's
// endpoint (data-embeddings-url), polled until every space has embedded or failed each product.
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

  function element(tag, attributes, children) {
    var el = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) { el.setAttribute(key, attributes[key]); });
    (children || []).forEach(function (child) {
      el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return el;
  }

  function spaceRow(space) {
    var bar = element("div", {
      class: "progress", role: "progressbar", "aria-label": "Embeddings in " + space,
      "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0"
    }, [element("span", { style: "width: 0%" })]);
    var total = element("span", { "data-field": "total" });
    return element("tr", { "data-space": space }, [
      element("td", {}, [space]),
      element("td", {}, [bar]),
      element("td", {}, [element("span", { "data-field": "done" }), " / ", total, " (",
        element("span", { "data-field": "percent" }), "%)"]),
      element("td", {}, [element("span", { "data-field": "failed" })])
    ]);
  }

  function renderEmbeddings(section, data) {
    var body = section.querySelector("tbody");
    data.spaces.forEach(function (row) {
      var tr = body.querySelector('tr[data-space="' + CSS.escape(row.space) + '"]');
      if (!tr) {
        tr = spaceRow(row.space);
        body.appendChild(tr);
      }
      setField(tr, "done", row.done);
      setField(tr, "total", row.total);
      setField(tr, "percent", row.percent);
      setField(tr, "failed", row.failed);
      setBar(tr.querySelector(".progress"), row.percent);
    });
    section.hidden = data.spaces.length === 0;
    return !data.settled;
  }

  function poll(pollUrl, render) {
    fetch(pollUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (data) {
        if (render(data)) window.setTimeout(function () { poll(pollUrl, render); }, 1000);
      })
      .catch(function () {
        window.setTimeout(function () { poll(pollUrl, render); }, 5000);
      });
  }

  function renderUpload(data) {
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
    return !data.settled;
  }

  if (root.dataset.settled !== "1") window.setTimeout(function () { poll(url, renderUpload); }, 1000);
  var section = root.querySelector("[data-embeddings-url]");
  if (section) {
    poll(section.dataset.embeddingsUrl, function (data) { return renderEmbeddings(section, data); });
  }
})();

// The product page's embedding status: polls the embeddings app's endpoint (data-status-url) every
// 2 s and shows each space's state until none is waiting. Without JavaScript the list says to reload.
(function () {
  "use strict";
  var root = document.getElementById("embedding-status");
  if (!root) return;
  var list = root.querySelector("ul");
  var LABELS = { embedded: "embedded", failed: "failed (see the embeddings dashboard)", waiting: "embedding…" };

  function show(data) {
    list.textContent = "";
    data.spaces.forEach(function (row) {
      var item = document.createElement("li");
      item.setAttribute("data-space", row.space);
      item.setAttribute("data-state", row.state);
      item.textContent = row.space + ": " + LABELS[row.state];
      list.appendChild(item);
    });
    root.setAttribute("data-settled", data.settled ? "1" : "0");
  }

  function poll() {
    fetch(root.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        show(data);
        if (!data.settled) window.setTimeout(poll, 2000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  poll();
})();

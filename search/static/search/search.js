// Progressive enhancement of the search form: image preview and drag-and-drop onto the file input.
// Without JavaScript the plain file input and form post do the same job.
(function () {
  "use strict";
  var zone = document.querySelector("[data-dropzone]");
  if (!zone) { return; }
  var input = zone.querySelector('input[type="file"]');
  var preview = zone.querySelector("[data-preview]");
  var hint = zone.querySelector(".drop-hint");
  if (hint) { hint.hidden = false; }

  function show(file) {
    if (!file || !preview || !file.type || file.type.indexOf("image/") !== 0) { return; }
    if (preview.dataset.objectUrl) { URL.revokeObjectURL(preview.dataset.objectUrl); }
    var url = URL.createObjectURL(file);
    preview.dataset.objectUrl = url;
    preview.src = url;
    preview.hidden = false;
    var previous = zone.querySelector('input[type="hidden"][name="image"]');
    if (previous) { previous.remove(); }
  }

  input.addEventListener("change", function () { show(input.files[0]); });
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("dragging"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    var files = event.dataTransfer && event.dataTransfer.files;
    if (!files || !files.length) { return; }
    var transfer = new DataTransfer();
    transfer.items.add(files[0]);
    input.files = transfer.files;
    show(files[0]);
  });
})();

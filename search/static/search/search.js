// Progressive enhancement of the search form: image preview, drag-and-drop onto the file input,
// removing the photo (×), filters folded on a phone, and a status line while a search runs.
// Without JavaScript the plain file input and form post do the same job.
(function () {
  "use strict";
  // On a phone the filters fold behind "Filters (n)" so results start within the first screen.
  if (window.matchMedia("(max-width: 719px)").matches) {
    document.querySelectorAll("details[data-fold-on-phone]").forEach(function (details) { details.open = false; });
  }

  var form = document.querySelector("[data-testid=search-form]");
  var status = document.querySelector("[data-search-status]");
  if (form && status) {
    form.addEventListener("submit", function () {
      status.textContent = status.hasAttribute("data-model-loading")
        ? "Loading the search model (first search after a restart; up to a minute)…"
        : "Searching…";
    });
  }

  var zone = document.querySelector("[data-dropzone]");
  if (!zone) { return; }
  var input = zone.querySelector('input[type="file"]');
  var preview = zone.querySelector("[data-preview]");
  var remove = zone.querySelector("[data-remove-photo]");
  var hint = zone.querySelector(".drop-hint");
  if (hint) { hint.hidden = false; }
  if (remove && preview && !preview.hidden) { remove.hidden = false; }

  function show(file) {
    if (!file || !preview || !file.type || file.type.indexOf("image/") !== 0) { return; }
    if (preview.dataset.objectUrl) { URL.revokeObjectURL(preview.dataset.objectUrl); }
    var url = URL.createObjectURL(file);
    preview.dataset.objectUrl = url;
    preview.src = url;
    preview.hidden = false;
    if (remove) { remove.hidden = false; }
    forgetStoredPhoto();
  }

  function forgetStoredPhoto() {
    var previous = zone.querySelector('input[type="hidden"][name="image"]');
    if (previous) { previous.remove(); }
    var note = zone.querySelector("[data-photo-note]");
    if (note) { note.remove(); }
  }

  if (remove) {
    remove.addEventListener("click", function () {
      input.value = "";
      forgetStoredPhoto();
      if (preview.dataset.objectUrl) { URL.revokeObjectURL(preview.dataset.objectUrl); delete preview.dataset.objectUrl; }
      preview.removeAttribute("src");
      preview.hidden = true;
      remove.hidden = true;
      input.focus();
    });
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

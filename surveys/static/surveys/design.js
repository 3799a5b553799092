// Survey form: the slug follows the title until the researcher edits the slug themselves.
(function () {
  "use strict";
  var title = document.getElementById("id_title");
  var slug = document.getElementById("id_slug");
  if (!title || !slug || slug.disabled) return;
  var touched = slug.value !== "";
  function slugify(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 50);
  }
  slug.addEventListener("input", function () { touched = slug.value !== ""; });
  title.addEventListener("input", function () { if (!touched) slug.value = slugify(title.value); });
})();

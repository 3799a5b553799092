// Participant task page, progressive enhancement (the page works without it):
// - the error summary takes focus after a bad submit, and its links focus the question's first
//   input with the question's legend in view (as GOV.UK's error summary does);
// - number keys 1–5 choose the rating (Label Studio's habit). They act only where a key press has
//   no other meaning: never in a text field, never with a modifier. Screen readers in browse mode
//   keep their own keys (the page never sees them); each radio button names its key with
//   aria-keyshortcuts, and a choice made from outside the question is announced politely.
(function () {
  "use strict";

  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    if (document.activeElement !== summary) { summary.focus(); }
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[data-error-link]");
      if (!link) { return; }
      var input = document.getElementById(link.getAttribute("href").slice(1));
      if (!input) { return; }
      event.preventDefault();
      var question = input.closest("fieldset, .question");
      (question || input).scrollIntoView();
      input.focus({ preventScroll: true });
    });
  }

  var announce = document.querySelector("[data-key-announce]");

  function typing(element) {
    if (!element) { return false; }
    if (element.isContentEditable || element.tagName === "TEXTAREA" || element.tagName === "SELECT") { return true; }
    if (element.tagName !== "INPUT") { return false; }
    return ["radio", "checkbox", "button", "submit", "reset"].indexOf(element.type) === -1;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || event.isComposing) { return; }
    if (!/^[1-5]$/.test(event.key)) { return; }
    var active = document.activeElement;
    if (typing(active)) { return; }
    var inside = active && active.closest ? active.closest("fieldset[data-scale]") : null;
    var group = inside || document.querySelector('fieldset[data-scale][data-kind="satisfaction"]') ||
      document.querySelector("fieldset[data-scale]");
    if (!group) { return; }
    var radio = group.querySelector('input[type="radio"][value="' + event.key + '"]');
    if (!radio || radio.disabled) { return; }
    event.preventDefault();
    radio.checked = true;
    radio.dispatchEvent(new Event("change", { bubbles: true }));
    if (inside) {
      radio.focus();  // the screen reader reads the newly checked radio button itself
    } else if (announce) {
      var legend = group.querySelector("legend");
      announce.textContent = "Chose " + radio.parentElement.textContent.trim() +
        (legend ? " for: " + legend.textContent.trim() : "");
    }
  });
})();

// Questions editor: show only the fields a question's kind uses (as Google Forms does), and move
// questions up or down (their "order" fields are renumbered). Without JavaScript every field shows.
(function () {
  "use strict";
  var USES = {
    low_label: ["satisfaction", "attention"],
    high_label: ["satisfaction", "attention"],
    expected_value: ["attention"],
  };
  var list = document.querySelector("[data-questions]");
  if (!list) return;

  function applyKind(card) {
    var kind = card.querySelector("select[name$='-kind']");
    if (!kind) return;
    Object.keys(USES).forEach(function (name) {
      var wrapper = card.querySelector("[data-field='" + name + "']");
      if (wrapper) wrapper.hidden = kind.value !== "" && USES[name].indexOf(kind.value) === -1;
    });
  }

  function renumber() {
    list.querySelectorAll("[data-question]").forEach(function (card, index) {
      var order = card.querySelector("input[name$='-order']");
      // The blank "new question" keeps its order (after the last), so an untouched one stays unsaved.
      if (order && card.dataset.saved === "1") order.value = index + 1;
      var legend = card.querySelector("legend");
      if (legend) legend.firstChild.textContent = "Question " + (index + 1) + " ";
    });
  }

  list.querySelectorAll("[data-question]").forEach(function (card) {
    applyKind(card);
    card.querySelector("select[name$='-kind']").addEventListener("change", function () { applyKind(card); });
    card.querySelectorAll("[data-move]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var other = button.dataset.move === "up" ? card.previousElementSibling : card.nextElementSibling;
        if (!other || !other.matches("[data-question]")) return;
        if (button.dataset.move === "up") list.insertBefore(card, other);
        else list.insertBefore(other, card);
        renumber();
        button.focus();
      });
    });
  });
})();

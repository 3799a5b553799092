// A researcher's preview of a task: the form looks exactly like the participant's but never submits.
// (A static file rather than an onsubmit attribute: the Content-Security-Policy allows no inline script.)
document.querySelectorAll("form[data-preview]").forEach((form) => {
  form.addEventListener("submit", (event) => event.preventDefault());
});

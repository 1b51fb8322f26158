// The only script of the web view: filters apply as soon as a select changes. Pages work without it.
document.addEventListener("change", function (event) {
  var target = event.target;
  if (target.matches && target.matches("select[data-autosubmit]") && target.form) {
    target.form.submit();
  }
});
// "/" jumps to the search or first filter field, as in many code browsers.
document.addEventListener("keydown", function (event) {
  if (event.key !== "/" || /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName)) return;
  var field = document.querySelector("input[type=search]");
  if (field) { event.preventDefault(); field.focus(); }
});

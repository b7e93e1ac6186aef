// Small progressive enhancements; every page works without this file.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.hasAttribute("data-busy")) {
    if (form.classList.contains("busy")) { event.preventDefault(); return; }  // no double submit
    form.classList.add("busy");
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.setAttribute("aria-disabled", "true"); });
  }
});

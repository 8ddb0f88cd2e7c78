/* A control marked [data-auto-submit] submits its form when its value changes (the staff
 * portal's location switcher). A static file rather than an onchange="" attribute: the
 * Content-Security-Policy runs no inline script. */
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var control = event.target;
    if (control instanceof Element && control.hasAttribute("data-auto-submit") && control.form) {
      control.form.submit();
    }
  });
})();

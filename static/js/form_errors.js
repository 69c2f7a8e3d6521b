// After a failed submit, focus lands on the first error, so that a keyboard or screen-reader
// user starts where the fix is needed instead of at the top of the page (WCAG 3.3.1). Three
// ways a submit fails: the server re-renders the form in place (HTMX), the server answers a
// plain POST with the whole page, or the browser's own validation stops an HTMX submit (which
// htmx halts without showing the browser's message or moving focus).
(function () {
  "use strict";

  var CONTROLS = "input, select, textarea, button";
  var ERRORS = '[aria-invalid="true"], .field-error, .errorlist';

  function visible(element) {
    return element.getClientRects().length > 0;
  }

  // The first error inside a form of ``root``, in document order: a control marked invalid,
  // or a message (a form-wide one comes first, above the fields).
  function firstError(root) {
    var found = root.querySelectorAll(ERRORS);
    for (var i = 0; i < found.length; i++) {
      if (found[i].closest("form") && visible(found[i])) {
        return found[i];
      }
    }
    return null;
  }

  function focusOn(target) {
    if (!target.matches(CONTROLS)) {
      // A message is not a control: focusable by script only, not a tab stop.
      if (!target.hasAttribute("tabindex")) {
        target.setAttribute("tabindex", "-1");
      }
    }
    target.focus({ preventScroll: true });
    var reduce = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    target.scrollIntoView({ block: "center", behavior: reduce ? "auto" : "smooth" });
  }

  function focusFirstError(root) {
    var target = firstError(root);
    if (target) {
      focusOn(target);
    }
    return target;
  }

  // HTMX: a form posted and came back with errors.
  document.addEventListener("htmx:afterSettle", function (event) {
    var detail = event.detail || {};
    var config = detail.requestConfig;
    if (!config || config.verb === "get" || !detail.elt || !detail.elt.isConnected) {
      return;
    }
    focusFirstError(detail.elt.closest("form") || detail.elt);
  });

  // HTMX stopped a submit on the browser's validation: show its message, focus the field.
  document.addEventListener("htmx:validation:halted", function (event) {
    var form = event.detail && event.detail.elt;
    if (!form || !form.querySelector) {
      return;
    }
    var invalid = form.matches("form") ? form.querySelector(":invalid:not(fieldset)") : null;
    if (invalid) {
      invalid.focus({ preventScroll: true });
      invalid.reportValidity();
      invalid.scrollIntoView({ block: "center" });
    }
  });

  // A whole page rendered with form errors is the answer to a failed plain POST.
  function onLoad() {
    var main = document.getElementById("main") || document.body;
    focusFirstError(main);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", onLoad);
  } else {
    onLoad();
  }
})();

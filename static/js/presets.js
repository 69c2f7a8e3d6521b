// Operation form: apply a preset in place (without this script its link reloads the page with
// the preset filled in by the server), save a preset on Enter in its name field, and show that
// a newly chosen file replaces the earlier job's photo. Delegated from the document, so the
// presets panel keeps working after HTMX swaps it.
(function () {
  "use strict";

  function controlsNamed(form, name) {
    return Array.prototype.filter.call(form.elements, function (control) {
      return control.name === name && control.type !== "file" && control.type !== "submit";
    });
  }

  function setControl(control, value) {
    var text = String(value);
    if (control.type === "checkbox" || control.type === "radio") {
      var checked = control.value === text;
      if (control.checked === checked) { return; }
      control.checked = checked;
    } else if (control.tagName === "SELECT") {
      var known = Array.prototype.some.call(control.options, function (option) {
        return option.value === text;
      });
      if (!known || control.value === text) { return; }
      control.value = text;
    } else {
      if (control.value === text) { return; }
      control.value = text;
    }
    // Other scripts on the page (visibility of fields, sliders, the palette) follow the fields
    // through these events, as they do when a person types.
    control.dispatchEvent(new Event("input", { bubbles: true }));
    control.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function apply(link) {
    var form = link.closest("form");
    if (!form) { return false; }
    var values;
    try {
      values = JSON.parse(link.getAttribute("data-preset-values"));
    } catch (error) {
      return false;
    }
    // The provider first: it decides which fields exist; then the rest in the declared order
    // (a mode before the fields that depend on it).
    var names = Object.keys(values).sort(function (a, b) {
      return (b === "provider") - (a === "provider");
    });
    names.forEach(function (name) {
      controlsNamed(form, name).forEach(function (control) { setControl(control, values[name]); });
    });
    var panel = link.closest("[data-saved-presets]");
    if (panel) {
      panel.querySelectorAll("[data-preset-values]").forEach(function (other) {
        if (other === link) {
          other.setAttribute("aria-current", "true");
        } else {
          other.removeAttribute("aria-current");
        }
      });
      var status = panel.querySelector("[data-preset-status]");
      var template = panel.querySelector("[data-preset-applied]");
      if (status && template) {
        status.textContent = template.textContent.replace(
          "%(name)s", link.getAttribute("data-preset-name")
        );
      }
    }
    return true;
  }

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0) { return; }
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) { return; }
    var link = event.target.closest("a[data-preset-values]");
    if (link && apply(link)) { event.preventDefault(); }
  });

  // Enter in the preset name saves the preset (without this script Enter runs the form, and
  // the server saves the preset instead because a name was typed).
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !event.target.matches("[data-preset-name-input]")) { return; }
    var panel = event.target.closest("[data-saved-presets]");
    var save = panel && panel.querySelector("[data-preset-save]");
    if (!save) { return; }
    event.preventDefault();
    save.click();
  });

  // A new file chosen for a role replaces the earlier job's photo for that role.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[type=file][name^=file_]")) { return; }
    var form = input.closest("form");
    var item = form && form.querySelector(
      '[data-reuse-role="' + input.name.slice("file_".length) + '"]'
    );
    if (!item) { return; }
    var replaced = input.files && input.files.length > 0;
    item.classList.toggle("reuse__item--replaced", replaced);
    var note = item.querySelector("[data-reuse-replaced]");
    if (note) { note.hidden = !replaced; }
  });
})();

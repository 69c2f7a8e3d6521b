// Operation form: show only the fields the chosen provider and mode use, and the chosen
// vendor's keys. Without this script every field shows and the server ignores the unused ones.
//
// It also holds what the form's other scripts share (window.studioForm): the translated words
// the template renders into [data-strings], putting files into a real <input type=file>, and
// binding each form once, on page load and on every HTMX swap.
(function () {
  "use strict";

  function update(form) {
    var providerSelect = form.querySelector("[data-provider-select]");
    var hiddenProvider = form.querySelector("input[name=provider]");
    var provider = providerSelect ? providerSelect.value : (hiddenProvider ? hiddenProvider.value : "");
    var vendor = "";
    if (providerSelect) {
      var option = providerSelect.options[providerSelect.selectedIndex];
      vendor = option ? option.getAttribute("data-vendor") || "" : "";
    } else {
      var only = form.querySelector("[data-vendor-block]");
      vendor = only ? only.getAttribute("data-vendor-block") : "";
    }
    form.querySelectorAll("[data-vendor-block]").forEach(function (block) {
      var on = block.getAttribute("data-vendor-block") === vendor;
      block.hidden = !on;
      block.querySelectorAll("select").forEach(function (select) { select.disabled = !on; });
    });
    form.querySelectorAll("[data-when], [data-providers]").forEach(function (row) {
      var show = true;
      var providers = row.getAttribute("data-providers");
      if (providers) {
        show = providers.split(" ").indexOf(provider) !== -1;
      }
      var when = row.getAttribute("data-when");
      if (show && when) {
        var parts = when.split("=");
        var control = form.querySelector("[name=" + parts[0] + "]");
        show = !!control && control.value === parts[1];
      }
      row.hidden = !show;
    });
  }

  // --- Shared helpers ---------------------------------------------------------------------

  function strings(form) {
    if (!form._strings) {
      var found = {};
      form.querySelectorAll("[data-strings] [data-string]").forEach(function (node) {
        found[node.getAttribute("data-string")] = node.textContent.trim();
      });
      form._strings = found;
    }
    return form._strings;
  }

  // Python's "%(name)s" placeholders, as the template's {% translate %} strings carry them.
  function format(text, values) {
    return String(text || "").replace(/%\((\w+)\)s|%%/g, function (match, name) {
      if (match === "%%") { return "%"; }
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match;
    });
  }

  function say(form, key, values) {
    return format(strings(form)[key] || key, values || {});
  }

  // Files go into the real input, so the plain multipart POST and the HTMX one both send them.
  function setFiles(input, files, options) {
    var transfer = new DataTransfer();
    (files || []).forEach(function (file) { transfer.items.add(file); });
    input.files = transfer.files;
    if (!(options && options.silent)) {
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  function provider(form) {
    var control = form.querySelector("[data-provider-select]") || form.querySelector("input[name=provider]");
    return control ? control.value : "";
  }

  var language = document.documentElement.lang || undefined;

  function number(value, digits) {
    return new Intl.NumberFormat(language, {
      minimumFractionDigits: digits || 0,
      maximumFractionDigits: digits || 0
    }).format(value);
  }

  var binders = [];

  function onForm(name, callback) {
    binders.push({ name: name, callback: callback });
  }

  function bindAll(root) {
    var forms = [];
    if (root.matches && root.matches("form.op-form")) { forms.push(root); }
    root.querySelectorAll("form.op-form").forEach(function (form) { forms.push(form); });
    forms.forEach(function (form) {
      binders.forEach(function (binder) {
        var flag = "bound" + binder.name;
        if (form.dataset[flag]) { return; }
        form.dataset[flag] = "1";
        binder.callback(form);
      });
    });
  }

  window.studioForm = {
    strings: strings,
    format: format,
    say: say,
    setFiles: setFiles,
    provider: provider,
    number: number,
    onForm: onForm,
    update: update
  };

  // --- Rows by provider and mode ----------------------------------------------------------

  onForm("Rows", function (form) {
    form.addEventListener("change", function () { update(form); });
    update(form);
  });

  // --- A slider beside a number field (the number stays the submitted value) ---------------

  onForm("Ranges", function (form) {
    form.querySelectorAll("input[type=range][data-range-for]").forEach(function (range) {
      var input = document.getElementById(range.getAttribute("data-range-for"));
      if (!input) { return; }
      range.hidden = false;
      function fromInput() {
        var value = parseFloat(input.value);
        if (!isNaN(value)) { range.value = String(value); }
      }
      fromInput();
      range.addEventListener("input", function () {
        input.value = range.value;
        input.dispatchEvent(new Event("input", { bubbles: true }));
      });
      range.addEventListener("change", function () {
        input.dispatchEvent(new Event("change", { bubbles: true }));
      });
      input.addEventListener("input", fromInput);
      input.addEventListener("change", fromInput);
      input.addEventListener("studio:set", fromInput);
    });
  });

  // --- Word counter for prompts the vendor reads only so far -------------------------------

  onForm("Words", function (form) {
    form.querySelectorAll("textarea[data-max-words]").forEach(function (textarea) {
      var row = textarea.closest(".field");
      var counter = row && row.querySelector("[data-word-count]");
      if (!counter) { return; }
      var max = parseInt(textarea.getAttribute("data-max-words"), 10);
      counter.hidden = false;
      function count() {
        var words = textarea.value.trim() ? textarea.value.trim().split(/\s+/).length : 0;
        var over = words > max;
        counter.textContent = say(form, over ? "words_over" : "words", { count: number(words), max: number(max) });
        counter.classList.toggle("word-count--over", over);
      }
      textarea.addEventListener("input", count);
      count();
    });
  });

  document.addEventListener("DOMContentLoaded", function () { bindAll(document); });
  document.addEventListener("htmx:load", function (event) { bindAll(event.target); });
})();

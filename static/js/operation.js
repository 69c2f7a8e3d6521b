// Operation form: show only the fields the chosen provider and mode use, and the chosen
// vendor's keys. Without this script every field shows and the server ignores the unused ones.
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

  function bind(root) {
    root.querySelectorAll("form.op-form").forEach(function (form) {
      if (form.dataset.bound) { return; }
      form.dataset.bound = "1";
      form.addEventListener("change", function () { update(form); });
      update(form);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { bind(document); });
  document.addEventListener("htmx:load", function (event) { bind(event.target); });
})();

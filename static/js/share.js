// Shared links page: a Copy button beside each link's address. Without this script (or without
// clipboard access) the address stays in a read-only field to select and copy by hand.
(function () {
  "use strict";

  function copied(button) {
    var list = button.closest("[data-copied]");
    var label = button.textContent;
    button.textContent = (list && list.dataset.copied) || label;
    window.setTimeout(function () { button.textContent = label; }, 2000);
  }

  function copy(button) {
    var field = document.getElementById(button.dataset.shareCopy);
    if (!field) { return; }
    field.focus();
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () { copied(button); }, function () {});
    } else if (document.execCommand && document.execCommand("copy")) {
      copied(button);
    }
  }

  function init(root) {
    if (!root || !root.querySelectorAll) { return; }
    root.querySelectorAll("[data-share-copy]").forEach(function (button) { button.hidden = false; });
    root.querySelectorAll("[data-share-url]").forEach(function (field) {
      field.addEventListener("focus", function () { field.select(); });
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-share-copy]");
    if (button) { copy(button); }
  });
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });
})();

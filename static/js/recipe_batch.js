// The recipe batch form: drop several photos on it (or choose them), tick results of the
// gallery, and see the whole cost (credits a photo times the photos) before running.
// Dropped files end up in the real <input type=file>, so the form posts as it does without
// this script; without it, the cost of the gallery photos chosen is still shown by the server.
(function () {
  "use strict";

  var form = document.querySelector("form[data-recipe-batch]");
  if (!form) { return; }
  var input = form.querySelector("input[type=file][name=photos]");
  var zone = form.querySelector("[data-dropzone]");
  var total = form.querySelector("[data-total]");
  var names = form.querySelector("[data-chosen-files]");
  var perPhoto = parseInt(form.getAttribute("data-per-photo"), 10) || 0;

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_all, name) { return String(values[name]); });
  }

  function update() {
    var files = input.files ? input.files.length : 0;
    var picked = form.querySelectorAll("input[name=job]:checked").length;
    var photos = files + picked;
    var which = photos === 1 ? "[data-one-text]" : "[data-total-text]";
    total.textContent = fill(form.querySelector(which).innerHTML.trim(), { photos: photos, total: photos * perPhoto });
    names.textContent = Array.prototype.map.call(input.files || [], function (file) { return file.name; }).join(", ");
  }

  function add(dropped) {
    // Dropped photos join those chosen already, as a person expects of a drop zone.
    var all = new DataTransfer();
    Array.prototype.forEach.call(input.files || [], function (file) { all.items.add(file); });
    Array.prototype.forEach.call(dropped, function (file) { all.items.add(file); });
    input.files = all.files;
    update();
  }

  form.querySelectorAll("[data-js-only]").forEach(function (node) { node.hidden = false; });
  form.addEventListener("change", update);
  zone.addEventListener("dragover", function (event) {
    event.preventDefault();
    zone.classList.add("is-over");
  });
  zone.addEventListener("dragleave", function () { zone.classList.remove("is-over"); });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    zone.classList.remove("is-over");
    if (event.dataTransfer && event.dataTransfer.files.length) { add(event.dataTransfer.files); }
  });
  update();
})();

// Color migration: a palette editor for the TEMPLATE mode and a hint for the strength slider.
//
// The palette's text field (`color_template`, "DB0D0D, 0E0CBB") stays the value the form posts
// and the server checks; the swatches read it and write it back, and typing in it redraws them.
(function () {
  "use strict";

  var studio = window.studioForm;
  var HEX = /^#?(?:[0-9a-f]{2})?([0-9a-f]{6})$/i;
  var FRESH = ["F2B705", "2E7D32", "1565C0", "8E24AA", "E64A19", "00897B", "5D4037", "DB0D0D", "0E0CBB"];

  function parse(text) {
    var colors = [];
    var items = String(text || "").split(/[\s,;]+/).filter(Boolean);
    for (var i = 0; i < items.length; i++) {
      var match = HEX.exec(items[i]);
      if (!match) { return null; }
      colors.push(match[1].toUpperCase());
    }
    return colors;
  }

  studio.onForm("Palette", function (form) {
    var root = form.querySelector("[data-palette]");
    var text = form.querySelector("input[name=color_template]");
    if (root && text) { palette(form, root, text); }
    degree(form);
  });

  function palette(form, root, text) {
    var list = root.querySelector("[data-palette-list]");
    var template = root.querySelector("template[data-palette-item]");
    var add = root.querySelector("[data-palette-add]");
    var status = root.querySelector("[data-palette-status]");
    var max = parseInt(text.getAttribute("data-max-items"), 10) || 7;
    var colors = parse(text.value) || [];
    root.hidden = false;

    function announce(key, values) {
      status.textContent = studio.say(form, key, values);
    }

    function write() {
      text.value = colors.join(", ");
      text.removeAttribute("aria-invalid");
    }

    function draw(focus) {
      list.textContent = "";
      colors.forEach(function (color, index) {
        var item = template.content.firstElementChild.cloneNode(true);
        var n = { n: index + 1 };
        item.querySelector(".swatch__index").textContent = String(index + 1);
        var picker = item.querySelector("[data-swatch-picker]");
        var hex = item.querySelector("[data-swatch-hex]");
        picker.value = "#" + color.toLowerCase();
        picker.setAttribute("aria-label", studio.say(form, "color_n", n));
        hex.value = "#" + color;
        hex.setAttribute("aria-label", studio.say(form, "color_hex_n", n));
        var up = item.querySelector("[data-swatch=up]");
        var down = item.querySelector("[data-swatch=down]");
        var remove = item.querySelector("[data-swatch=remove]");
        up.setAttribute("aria-label", studio.say(form, "color_up_n", n));
        down.setAttribute("aria-label", studio.say(form, "color_down_n", n));
        remove.setAttribute("aria-label", studio.say(form, "color_remove_n", n));
        up.title = up.getAttribute("aria-label");
        down.title = down.getAttribute("aria-label");
        remove.title = remove.getAttribute("aria-label");
        up.disabled = index === 0;
        down.disabled = index === colors.length - 1;
        remove.disabled = colors.length === 1;

        picker.addEventListener("input", function () {
          colors[index] = picker.value.slice(1).toUpperCase();
          hex.value = "#" + colors[index];
          hex.removeAttribute("aria-invalid");
          write();
        });
        hex.addEventListener("input", function () {
          var match = HEX.exec(hex.value.trim());
          if (match) {
            colors[index] = match[1].toUpperCase();
            picker.value = "#" + colors[index].toLowerCase();
            hex.removeAttribute("aria-invalid");
            write();
          } else {
            hex.setAttribute("aria-invalid", "true");
          }
        });
        hex.addEventListener("change", function () {
          hex.value = "#" + colors[index];
          hex.removeAttribute("aria-invalid");
        });
        hex.addEventListener("keydown", function (event) {
          // Enter confirms the color; it does not send the form.
          if (event.key === "Enter") {
            event.preventDefault();
            hex.dispatchEvent(new Event("change"));
          }
        });
        up.addEventListener("click", function () { move(index, -1, "up"); });
        down.addEventListener("click", function () { move(index, 1, "down"); });
        remove.addEventListener("click", function () {
          colors.splice(index, 1);
          write();
          draw({ index: Math.min(index, colors.length - 1), part: "remove" });
          announce("color_removed", { count: colors.length });
        });
        list.appendChild(item);
      });
      add.disabled = colors.length >= max;
      if (focus) {
        var target = list.children[focus.index];
        var control = target && target.querySelector(
          focus.part === "picker" ? "[data-swatch-picker]" : "[data-swatch=" + focus.part + "]"
        );
        if (control && control.disabled) {
          // At the end of the list the same button is disabled: focus its neighbour.
          control = target.querySelector("[data-swatch]:not([disabled])") || target.querySelector("[data-swatch-picker]");
        }
        if (control) { control.focus(); }
      }
    }

    function move(index, by, part) {
      var to = index + by;
      if (to < 0 || to >= colors.length) { return; }
      var moved = colors.splice(index, 1)[0];
      colors.splice(to, 0, moved);
      write();
      draw({ index: to, part: part });
      announce("color_moved", { n: to + 1 });
    }

    add.addEventListener("click", function () {
      if (colors.length >= max) {
        announce("color_max", { max: max });
        return;
      }
      var next = FRESH.filter(function (color) { return colors.indexOf(color) === -1; })[0] || "808080";
      colors.push(next);
      write();
      draw({ index: colors.length - 1, part: "picker" });
      announce("color_added", { n: colors.length });
    });

    // Typing a list in the text field redraws the swatches once it reads as colors.
    text.addEventListener("input", function () {
      var parsed = parse(text.value);
      if (parsed && parsed.length && parsed.length <= max) {
        colors = parsed;
        draw(null);
      }
    });

    draw(null);
  }

  function degree(form) {
    var input = form.querySelector("input[name=degree]");
    var hint = form.querySelector("[data-degree-hint]");
    if (!input || !hint) { return; }
    function show() {
      var value = parseFloat(input.value);
      if (isNaN(value)) {
        hint.textContent = "";
        return;
      }
      var word = value <= 0 ? "degree_none" : value < 0.34 ? "degree_subtle" : value < 0.67 ? "degree_balanced" : "degree_strong";
      hint.textContent = studio.say(form, "degree_hint", {
        value: studio.number(value, 2),
        word: studio.say(form, word)
      });
    }
    input.addEventListener("input", show);
    input.addEventListener("change", show);
    show();
  }
})();

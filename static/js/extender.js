// Image extender: the photo inside its future frame. The four side ratios (a share of the
// photo's width or height, 0 to 1, as the vendor takes them) stay in their number fields, the
// values the form posts; the frame's edges, the sliders and the presets all write those fields.
// Also: the choice between extending the frame and painting a mask (mask.js paints), and the
// seed field's fixed/random toggle.
(function () {
  "use strict";

  var studio = window.studioForm;
  var SIDES = ["top", "bottom", "left", "right"];
  var ROOM = 30; // px around the frame for the edge handles and their numbers

  function clamp(value) {
    if (isNaN(value)) { return 0; }
    return Math.min(1, Math.max(0, Math.round(value * 100) / 100));
  }

  function plain(value) {
    // The number fields post with a dot whatever the language; 2 decimals at most.
    return String(Math.round(value * 100) / 100);
  }

  studio.onForm("Extender", function (form) {
    var root = form.querySelector("[data-extender]");
    if (!root) { return; }
    root.hidden = false;

    var inputs = {};
    SIDES.forEach(function (side) {
      inputs[side] = form.querySelector("input[name=" + side + "]");
      // Edges and presets set any hundredth; the declared 0.05 step stays the arrow-key step.
      inputs[side].step = "0.01";
    });
    var photoInput = form.querySelector("input[type=file][name=file_image]");
    var maskRow = form.querySelector(".field--file_mask");
    var stage = root.querySelector("[data-frame-stage]");
    var frame = root.querySelector("[data-frame]");
    var picture = root.querySelector("[data-frame-photo]");
    var sizeLine = root.querySelector("[data-frame-size]");
    var note = root.querySelector("[data-preset-note]");
    var empty = root.querySelector("[data-extender-empty]");
    var framePanel = root.querySelector("[data-frame-panel]");
    var maskPanel = root.querySelector("[data-mask-panel]");
    var edges = {};
    root.querySelectorAll("[data-edge]").forEach(function (edge) {
      edges[edge.getAttribute("data-edge")] = edge;
    });

    var ratios = {};
    var photo = null;
    var geometry = null; // scale and photo position; frozen while an edge is dragged
    var dragging = null;

    function read() {
      SIDES.forEach(function (side) { ratios[side] = clamp(parseFloat(inputs[side].value)); });
    }

    function write(side, value) {
      ratios[side] = clamp(value);
      inputs[side].value = plain(ratios[side]);
      inputs[side].dispatchEvent(new Event("studio:set"));
    }

    function mode() {
      var checked = root.querySelector("input[name=extend_mode]:checked");
      return checked ? checked.value : "frame";
    }

    function layout() {
      var width = stage.clientWidth;
      var across = 1 + ratios.left + ratios.right;
      var down = 1 + ratios.top + ratios.bottom;
      // As tall as the frame needs at full width, within half the screen's height.
      var fitted = (width - 2 * ROOM) * (photo.height * down) / (photo.width * across) + 2 * ROOM;
      var most = Math.max(240, Math.min(window.innerHeight * 0.5, 440));
      stage.style.height = Math.round(Math.max(200, Math.min(most, fitted))) + "px";
      var height = stage.clientHeight;
      var scale = Math.min(
        (width - 2 * ROOM) / (photo.width * across),
        (height - 2 * ROOM) / (photo.height * down)
      );
      var shownWidth = photo.width * scale;
      var shownHeight = photo.height * scale;
      var left = (width - shownWidth * across) / 2;
      var top = (height - shownHeight * down) / 2;
      geometry = {
        width: shownWidth,
        height: shownHeight,
        x: left + ratios.left * shownWidth,
        y: top + ratios.top * shownHeight
      };
    }

    function newSize() {
      var width = photo.width + Math.round(photo.width * ratios.left) + Math.round(photo.width * ratios.right);
      var height = photo.height + Math.round(photo.height * ratios.top) + Math.round(photo.height * ratios.bottom);
      var maxWidth = parseInt((form.querySelector("input[name=max_width]") || {}).value, 10) || width;
      var maxHeight = parseInt((form.querySelector("input[name=max_height]") || {}).value, 10) || height;
      var fit = Math.min(1, maxWidth / width, maxHeight / height);
      var values = {
        width: studio.number(width),
        height: studio.number(height),
        fit_width: studio.number(Math.round(width * fit)),
        fit_height: studio.number(Math.round(height * fit))
      };
      return studio.say(form, fit < 1 ? "new_size_fitted" : "new_size", values);
    }

    function render() {
      var on = mode() === "frame";
      framePanel.hidden = !on || !photo;
      maskPanel.hidden = on || !photo;
      empty.hidden = !!photo;
      SIDES.forEach(function (side) {
        var row = inputs[side].closest(".field");
        if (on) { row.removeAttribute("data-mode-off"); } else { row.setAttribute("data-mode-off", ""); }
        var edge = edges[side];
        var percent = studio.number(ratios[side] * 100);
        edge.setAttribute("aria-valuenow", plain(ratios[side]));
        edge.setAttribute("aria-valuetext", studio.say(form, "edge_value", { percent: percent }));
        edge.querySelector("[data-edge-value]").textContent = studio.say(form, "edge_value", { percent: percent });
      });
      if (maskRow) {
        if (on) { maskRow.setAttribute("data-mode-off", ""); } else { maskRow.removeAttribute("data-mode-off"); }
      }
      if (!photo || !on || stage.clientWidth === 0) { return; }
      if (!dragging) { layout(); }
      var g = geometry;
      var frameLeft = g.x - ratios.left * g.width;
      var frameTop = g.y - ratios.top * g.height;
      frame.style.left = frameLeft + "px";
      frame.style.top = frameTop + "px";
      frame.style.width = g.width * (1 + ratios.left + ratios.right) + "px";
      frame.style.height = g.height * (1 + ratios.top + ratios.bottom) + "px";
      picture.style.left = ratios.left * g.width + "px";
      picture.style.top = ratios.top * g.height + "px";
      picture.style.width = g.width + "px";
      picture.style.height = g.height + "px";
      if (dragging) {
        // The frame may outgrow the stage while an edge is held: the stage grows with it.
        var bottom = frameTop + g.height * (1 + ratios.top + ratios.bottom) + ROOM;
        if (bottom > stage.clientHeight) { stage.style.height = Math.ceil(bottom) + "px"; }
      }
      sizeLine.textContent = newSize();
    }

    // --- Dragging the edges: mouse, pen and touch alike -------------------------------------

    function ratioAt(side, event) {
      var box = stage.getBoundingClientRect();
      var x = event.clientX - box.left;
      var y = event.clientY - box.top;
      var g = geometry;
      if (side === "left") { return (g.x - x) / g.width; }
      if (side === "right") { return (x - g.x - g.width) / g.width; }
      if (side === "top") { return (g.y - y) / g.height; }
      return (y - g.y - g.height) / g.height;
    }

    Object.keys(edges).forEach(function (side) {
      var edge = edges[side];
      edge.addEventListener("pointerdown", function (event) {
        if (event.button !== 0 || !photo) { return; }
        event.preventDefault();
        edge.focus({ preventScroll: true });
        edge.setPointerCapture(event.pointerId);
        dragging = { side: side, pointer: event.pointerId };
        root.classList.add("is-dragging");
      });
      edge.addEventListener("pointermove", function (event) {
        if (!dragging || dragging.pointer !== event.pointerId) { return; }
        write(side, ratioAt(side, event));
        render();
      });
      function stop(event) {
        if (!dragging || dragging.pointer !== event.pointerId) { return; }
        dragging = null;
        root.classList.remove("is-dragging");
        inputs[side].dispatchEvent(new Event("change", { bubbles: true }));
        render();
      }
      edge.addEventListener("pointerup", stop);
      edge.addEventListener("pointercancel", stop);
      edge.addEventListener("lostpointercapture", stop);

      edge.addEventListener("keydown", function (event) {
        var step = event.shiftKey ? 0.01 : 0.05;
        var grow = { top: "ArrowUp", bottom: "ArrowDown", left: "ArrowLeft", right: "ArrowRight" }[side];
        var shrink = { top: "ArrowDown", bottom: "ArrowUp", left: "ArrowRight", right: "ArrowLeft" }[side];
        var value = ratios[side];
        if (event.key === grow || event.key === "PageUp") {
          value += event.key === "PageUp" ? 0.1 : step;
        } else if (event.key === shrink || event.key === "PageDown") {
          value -= event.key === "PageDown" ? 0.1 : step;
        } else if ((side === "left" || side === "right") && event.key === "ArrowUp") {
          value += step;
        } else if ((side === "left" || side === "right") && event.key === "ArrowDown") {
          value -= step;
        } else if (event.key === "Home") {
          value = 0;
        } else if (event.key === "End") {
          value = 1;
        } else {
          return;
        }
        event.preventDefault();
        write(side, value);
        inputs[side].dispatchEvent(new Event("change", { bubbles: true }));
        render();
      });
    });

    // --- Presets ------------------------------------------------------------------------------

    root.querySelectorAll("[data-aspect], [data-all]").forEach(function (button) {
      button.addEventListener("click", function () {
        if (!photo) { return; }
        var capped = false;
        if (button.hasAttribute("data-all")) {
          var all = parseFloat(button.getAttribute("data-all"));
          SIDES.forEach(function (side) { write(side, all); });
        } else {
          var parts = button.getAttribute("data-aspect").split("/");
          var target = parseFloat(parts[0]) / parseFloat(parts[1]);
          var aspect = photo.width / photo.height;
          var across = 0;
          var down = 0;
          if (target > aspect) {
            across = (target * photo.height - photo.width) / (2 * photo.width);
          } else {
            down = (photo.width / target - photo.height) / (2 * photo.height);
          }
          capped = across > 1 || down > 1;
          write("left", across);
          write("right", across);
          write("top", down);
          write("bottom", down);
        }
        var label = button.textContent.trim();
        note.textContent = studio.say(form, capped ? "preset_capped" : "preset_done", { preset: label });
        SIDES.forEach(function (side) {
          inputs[side].dispatchEvent(new Event("change", { bubbles: true }));
        });
        render();
      });
    });

    // --- Wiring -----------------------------------------------------------------------------

    SIDES.forEach(function (side) {
      inputs[side].addEventListener("input", function () { read(); render(); });
      inputs[side].addEventListener("change", function () {
        if (!dragging) { read(); render(); }
      });
    });
    ["max_width", "max_height"].forEach(function (name) {
      var input = form.querySelector("input[name=" + name + "]");
      if (input) { input.addEventListener("input", render); }
    });
    root.querySelectorAll("input[name=extend_mode]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        render();
        form.dispatchEvent(new CustomEvent("extender:mode", { detail: { mode: mode() } }));
      });
    });
    photoInput.addEventListener("photo:preview", function (event) {
      photo = event.detail;
      picture.src = photo.url;
      render();
    });
    photoInput.addEventListener("photo:cleared", function () {
      photo = null;
      picture.removeAttribute("src");
      render();
    });
    if (window.ResizeObserver) {
      new ResizeObserver(function () { if (!dragging) { render(); } }).observe(stage);
    }
    if (photoInput._photo) {
      photo = photoInput._photo;
      picture.src = photo.url;
    }
    read();
    render();

    // --- Seed: fixed, or random at the vendor (-1) -------------------------------------------

    var seed = form.querySelector("input[name=seed]");
    var tools = form.querySelector("[data-seed-tools]");
    if (seed && tools) {
      var fixed = tools.querySelector("[data-seed-fixed]");
      var randomButton = tools.querySelector("[data-seed-random]");
      tools.hidden = false;
      var randomSeed = function () {
        var values = new Uint32Array(1);
        window.crypto.getRandomValues(values);
        return String(values[0] % 2147483647);
      };
      var sync = function () {
        fixed.checked = seed.value.trim() !== "-1";
        seed.readOnly = !fixed.checked;
      };
      fixed.addEventListener("change", function () {
        if (fixed.checked) {
          seed.value = seed.dataset.fixedSeed || randomSeed();
        } else {
          seed.dataset.fixedSeed = seed.value;
          seed.value = "-1";
        }
        sync();
      });
      randomButton.addEventListener("click", function () {
        seed.value = randomSeed();
        sync();
      });
      seed.addEventListener("input", sync);
      sync();
    }
  });
})();

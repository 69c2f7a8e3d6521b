// Mask painter for the image extender: paint the area the AI should fill over the photo, with
// a brush and an eraser (mouse, pen, touch, or the keyboard), undo/redo, clear, invert, or load
// a mask file. On submit the mask goes into the real `file_mask` input as a PNG at the photo's
// natural size: painted pixels white and opaque, the rest black and transparent. The server
// reads a painted mask's alpha (editor.images.fit_mask); its gray values say the same.
//
// The painting is kept as a list of operations, not pixel snapshots, so undo costs no memory
// on a 12-megapixel photo: undo replays the list.
(function () {
  "use strict";

  var studio = window.studioForm;
  var PAINT = "#ff2d75"; // what the strokes look like on screen; exported as white

  studio.onForm("Mask", function (form) {
    var panel = form.querySelector("[data-mask-panel]");
    if (!panel) { return; }
    var canvas = panel.querySelector("[data-mask-canvas]");
    var context = canvas.getContext("2d");
    var stage = panel.querySelector("[data-mask-stage]");
    var picture = panel.querySelector("[data-mask-photo]");
    var cursor = panel.querySelector("[data-mask-cursor]");
    var status = panel.querySelector("[data-mask-status]");
    var sizeInput = panel.querySelector("[data-brush-size]");
    var buttons = {};
    panel.querySelectorAll("[data-mask-action]").forEach(function (button) {
      buttons[button.getAttribute("data-mask-action")] = button;
    });
    var photoInput = form.querySelector("input[type=file][name=file_image]");
    var maskInput = form.querySelector("input[type=file][name=file_mask]");

    var photo = null;
    var done = [];
    var undone = [];
    var stroke = null;
    var keyboard = { x: 0, y: 0, down: false, shown: false };

    function announce(key, values) {
      status.textContent = studio.say(form, key, values);
    }

    function mode() {
      var checked = form.querySelector("input[name=extend_mode]:checked");
      return checked ? checked.value : "frame";
    }

    function tool() {
      var checked = panel.querySelector("input[name=mask_tool]:checked");
      return checked ? checked.value : "brush";
    }

    // Display pixels to photo pixels.
    function ratio() {
      var box = canvas.getBoundingClientRect();
      return box.width ? canvas.width / box.width : 1;
    }

    function brushSize() {
      return Math.max(1, parseFloat(sizeInput.value) * ratio());
    }

    function pen(operation) {
      context.globalCompositeOperation = operation.tool === "eraser" ? "destination-out" : "source-over";
      context.strokeStyle = PAINT;
      context.fillStyle = PAINT;
      context.lineWidth = operation.size;
      context.lineCap = "round";
      context.lineJoin = "round";
    }

    function dot(operation, point) {
      pen(operation);
      context.beginPath();
      context.arc(point[0], point[1], operation.size / 2, 0, Math.PI * 2);
      context.fill();
    }

    function segment(operation, from, to) {
      pen(operation);
      context.beginPath();
      context.moveTo(from[0], from[1]);
      context.lineTo(to[0], to[1]);
      context.stroke();
    }

    function apply(operation) {
      if (operation.type === "stroke") {
        dot(operation, operation.points[0]);
        for (var i = 1; i < operation.points.length; i++) {
          segment(operation, operation.points[i - 1], operation.points[i]);
        }
      } else if (operation.type === "clear") {
        context.clearRect(0, 0, canvas.width, canvas.height);
      } else if (operation.type === "invert") {
        // XOR with an opaque fill: alpha becomes 1 - alpha, everywhere.
        context.globalCompositeOperation = "xor";
        context.fillStyle = PAINT;
        context.fillRect(0, 0, canvas.width, canvas.height);
      } else if (operation.type === "image") {
        context.globalCompositeOperation = "source-over";
        context.clearRect(0, 0, canvas.width, canvas.height);
        context.drawImage(operation.image, 0, 0);
      }
      context.globalCompositeOperation = "source-over";
    }

    function replay() {
      context.globalCompositeOperation = "source-over";
      context.clearRect(0, 0, canvas.width, canvas.height);
      done.forEach(apply);
    }

    function refresh() {
      buttons.undo.disabled = done.length === 0;
      buttons.redo.disabled = undone.length === 0;
    }

    function commit(operation) {
      done.push(operation);
      undone = [];
      refresh();
    }

    function act(name) {
      if (!photo) { return; }
      if (name === "undo" && done.length) {
        undone.push(done.pop());
        replay();
        announce("mask_undone");
      } else if (name === "redo" && undone.length) {
        var operation = undone.pop();
        done.push(operation);
        apply(operation);
        announce("mask_redone");
      } else if (name === "clear") {
        var clear = { type: "clear" };
        apply(clear);
        commit(clear);
        announce("mask_cleared");
      } else if (name === "invert") {
        var invert = { type: "invert" };
        apply(invert);
        commit(invert);
        announce("mask_inverted");
      }
      refresh();
    }

    function reset(next) {
      photo = next;
      done = [];
      undone = [];
      stroke = null;
      keyboard = { x: 0, y: 0, down: false, shown: false };
      cursor.hidden = true;
      if (photo) {
        canvas.width = photo.width;
        canvas.height = photo.height;
        keyboard.x = photo.width / 2;
        keyboard.y = photo.height / 2;
        picture.src = photo.url;
        // A tall photo stays within the screen's height.
        stage.style.maxWidth = "min(100%, calc(70vh * " + photo.width / photo.height + "))";
      } else {
        canvas.width = 0;
        canvas.height = 0;
        picture.removeAttribute("src");
      }
      context.clearRect(0, 0, canvas.width, canvas.height);
      refresh();
    }

    // --- Pointer painting -----------------------------------------------------------------------

    function pointAt(event) {
      var box = canvas.getBoundingClientRect();
      return [
        (event.clientX - box.left) * canvas.width / box.width,
        (event.clientY - box.top) * canvas.height / box.height
      ];
    }

    canvas.addEventListener("pointerdown", function (event) {
      if (!photo || (event.pointerType === "mouse" && event.button !== 0)) { return; }
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      stroke = { type: "stroke", tool: tool(), size: brushSize(), points: [pointAt(event)], pointer: event.pointerId };
      dot(stroke, stroke.points[0]);
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!stroke || stroke.pointer !== event.pointerId) { return; }
      var events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
      if (!events.length) { events = [event]; }
      events.forEach(function (each) {
        var point = pointAt(each);
        segment(stroke, stroke.points[stroke.points.length - 1], point);
        stroke.points.push(point);
      });
    });
    function finish(event) {
      if (!stroke || stroke.pointer !== event.pointerId) { return; }
      var operation = stroke;
      stroke = null;
      delete operation.pointer;
      commit(operation);
    }
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);
    canvas.addEventListener("lostpointercapture", finish);

    // --- Keyboard painting: arrows move the brush, Space puts it down or lifts it ------------

    function showCursor() {
      if (!photo) { return; }
      var scale = 1 / ratio();
      var diameter = parseFloat(sizeInput.value);
      cursor.style.width = diameter + "px";
      cursor.style.height = diameter + "px";
      cursor.style.left = keyboard.x * scale - diameter / 2 + "px";
      cursor.style.top = keyboard.y * scale - diameter / 2 + "px";
      cursor.classList.toggle("mask-cursor--down", keyboard.down);
      cursor.hidden = false;
    }

    function lift() {
      if (stroke && stroke.keyboard) {
        var operation = stroke;
        stroke = null;
        commit(operation);
      }
      keyboard.down = false;
    }

    canvas.addEventListener("focus", showCursor);
    canvas.addEventListener("blur", function () {
      lift();
      cursor.hidden = true;
    });
    canvas.addEventListener("keydown", function (event) {
      if (!photo) { return; }
      var key = event.key;
      var command = event.ctrlKey || event.metaKey;
      if (command && (key === "z" || key === "Z")) {
        event.preventDefault();
        lift();
        act(event.shiftKey ? "redo" : "undo");
        showCursor();
        return;
      }
      if (command && (key === "y" || key === "Y")) {
        event.preventDefault();
        lift();
        act("redo");
        return;
      }
      var step = Math.max(2, Math.min(photo.width, photo.height) * (event.shiftKey ? 0.1 : 0.02));
      var moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (moves[key]) {
        event.preventDefault();
        keyboard.x = Math.min(photo.width, Math.max(0, keyboard.x + moves[key][0]));
        keyboard.y = Math.min(photo.height, Math.max(0, keyboard.y + moves[key][1]));
        if (keyboard.down && stroke) {
          var point = [keyboard.x, keyboard.y];
          segment(stroke, stroke.points[stroke.points.length - 1], point);
          stroke.points.push(point);
        }
        showCursor();
      } else if (key === " " || key === "Enter") {
        event.preventDefault();
        if (keyboard.down) {
          lift();
          announce("mask_pen_up");
        } else {
          keyboard.down = true;
          stroke = { type: "stroke", tool: tool(), size: brushSize(), points: [[keyboard.x, keyboard.y]], keyboard: true };
          dot(stroke, stroke.points[0]);
          announce("mask_pen_down");
        }
        showCursor();
      } else if (key === "Escape" && keyboard.down) {
        event.preventDefault();
        lift();
        announce("mask_pen_up");
        showCursor();
      }
    });
    sizeInput.addEventListener("input", function () {
      if (!cursor.hidden) { showCursor(); }
    });

    Object.keys(buttons).forEach(function (name) {
      buttons[name].addEventListener("click", function () { act(name); });
    });

    // --- A mask file: white (or opaque) is the area to fill, as the server reads it ---------

    function loadMask(file) {
      if (!photo || !file) { return; }
      var url = URL.createObjectURL(file);
      loadMaskFrom(url, function () { URL.revokeObjectURL(url); }, "mask_loaded", { name: file.name });
    }

    function loadMaskFrom(url, done, message, values) {
      var image = new Image();
      image.onload = function () {
        var layer = document.createElement("canvas");
        layer.width = photo.width;
        layer.height = photo.height;
        var paint = layer.getContext("2d");
        paint.drawImage(image, 0, 0, photo.width, photo.height);
        done();
        var pixels = paint.getImageData(0, 0, layer.width, layer.height);
        var data = pixels.data;
        var seeThrough = false;
        for (var i = 3; i < data.length; i += 4) {
          if (data[i] < 255) { seeThrough = true; break; }
        }
        for (var j = 0; j < data.length; j += 4) {
          var level = seeThrough ? data[j + 3] : (data[j] + data[j + 1] + data[j + 2]) / 3;
          data[j] = 255;
          data[j + 1] = 45;
          data[j + 2] = 117;
          data[j + 3] = level >= 128 ? 255 : 0;
        }
        paint.putImageData(pixels, 0, 0);
        var operation = { type: "image", image: layer };
        apply(operation);
        commit(operation);
        announce(message, values);
      };
      image.onerror = done;
      image.src = url;
    }

    // A mask the form already holds (kept from a try sent back with an error, or the earlier
    // job's on "Run again") opens in the painter, to be sent again or changed.
    function keptMask() {
      var keep = form.querySelector("input[name=reuse_mask]");
      var item = form.querySelector("[data-reuse-role=mask]");
      var image = item && item.querySelector("img");
      return keep && keep.checked && image ? { keep: keep, url: image.currentSrc || image.src } : null;
    }

    // --- Export -------------------------------------------------------------------------------

    function painted() {
      var probe = document.createElement("canvas");
      probe.width = Math.min(256, canvas.width);
      probe.height = Math.min(256, canvas.height);
      var look = probe.getContext("2d");
      look.drawImage(canvas, 0, 0, probe.width, probe.height);
      var data = look.getImageData(0, 0, probe.width, probe.height).data;
      for (var i = 3; i < data.length; i += 4) {
        if (data[i] > 0) { return true; }
      }
      return false;
    }

    function exported() {
      var out = document.createElement("canvas");
      out.width = canvas.width;
      out.height = canvas.height;
      var paint = out.getContext("2d");
      paint.drawImage(canvas, 0, 0);
      paint.globalCompositeOperation = "source-in";
      paint.fillStyle = "#ffffff";
      paint.fillRect(0, 0, out.width, out.height);
      // Synchronous on purpose: the file must be in the input before the submit goes out.
      var encoded = atob(out.toDataURL("image/png").split(",")[1]);
      var bytes = new Uint8Array(encoded.length);
      for (var i = 0; i < encoded.length; i++) { bytes[i] = encoded.charCodeAt(i); }
      return new File([bytes], "mask.png", { type: "image/png" });
    }

    // Called on submit (below): true lets the submit go on.
    form._prepareMask = function () {
      if (!maskInput) { return true; }
      if (mode() !== "mask" || !photo) {
        if (mode() !== "mask") {
          studio.setFiles(maskInput, [], { silent: true });
          // Extending the frame: a kept mask must not go along with the side ratios.
          var kept = keptMask();
          if (kept) { kept.keep.checked = false; }
        }
        return true;
      }
      if (!painted()) {
        announce("mask_empty");
        canvas.focus();
        return false;
      }
      studio.setFiles(maskInput, [exported()], { silent: true });
      return true;
    };

    // --- Wiring -------------------------------------------------------------------------------

    function start(next) {
      reset(next);
      var kept = keptMask();
      if (kept) { loadMaskFrom(kept.url, function () {}, "mask_kept", {}); }
    }

    photoInput.addEventListener("photo:preview", function (event) {
      var had = done.length > 0;
      start(event.detail);
      if (had && !keptMask()) { announce("mask_reset"); }
    });
    photoInput.addEventListener("photo:cleared", function () { reset(null); });
    if (maskInput) {
      maskInput.addEventListener("change", function () {
        var file = maskInput.files && maskInput.files[0];
        if (file && /^image\//.test(file.type)) { loadMask(file); }
      });
    }
    if (photoInput._photo) { start(photoInput._photo); }
    refresh();
  });

  // Capture phase on the document: runs before HTMX's own submit handler on the form.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    // Buttons that post elsewhere (saving or deleting a preset) do not run the job.
    if (submitter && (submitter.hasAttribute("formaction") || submitter.hasAttribute("formnovalidate"))) { return; }
    if (form && form._prepareMask && !form._prepareMask()) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
})();

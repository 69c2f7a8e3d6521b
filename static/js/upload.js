// Photo fields: drop a photo anywhere on the page, paste one (Ctrl/Cmd+V), or pick a file;
// see it at once with its pixel size, and a warning before upload when the chosen provider
// will fit it to the vendor's limits (each input carries them in data-limits, per provider).
//
// Every file ends up in the real <input type=file> (studioForm.setFiles), so the form posts
// exactly as it does without this script. A preview announces itself with a "photo:preview"
// event (detail: url, width, height, file) for the extender and the mask painter.
(function () {
  "use strict";

  var studio = window.studioForm;
  var FORMATS = {
    "image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP",
    "image/avif": "AVIF", "image/heic": "HEIF", "image/heif": "HEIF"
  };
  // Phone photos whose type some systems do not name (a .heic picked on Windows comes as "").
  var BY_EXTENSION = { heic: "image/heic", heif: "image/heif", avif: "image/avif" };
  // What browsers cannot show: the server reads and converts it, the page only names it.
  var UNSHOWN = { HEIF: "HEIC" };

  function typeOf(file) {
    if (file.type) { return file.type; }
    var extension = (file.name || "").split(".").pop().toLowerCase();
    return BY_EXTENSION[extension] || "";
  }

  function isPhoto(file) {
    return !!file && !!FORMATS[typeOf(file)];
  }

  function formOf() {
    return document.querySelector("form.op-form");
  }

  function zoneOf(input) {
    return input.closest("[data-upload]");
  }

  function bytesText(form, bytes) {
    if (bytes >= 1000 * 1000) {
      return studio.say(form, "megabytes", { value: studio.number(bytes / 1000 / 1000, 1) });
    }
    return studio.say(form, "kilobytes", { value: studio.number(Math.max(1, Math.round(bytes / 1000))) });
  }

  function visible(element) {
    return !!element && !element.closest("[hidden], [data-mode-off]");
  }

  function mainInput(form) {
    return form.querySelector("input[type=file][name=file_image]");
  }

  // The field a dropped or pasted photo is for: the one under the pointer or holding focus,
  // else the main photo.
  function targetInput(form, element) {
    var zone = element && element.closest ? element.closest("[data-upload]") : null;
    if (zone && form.contains(zone) && visible(zone)) {
      return zone.querySelector("input[type=file]");
    }
    return mainInput(form);
  }

  function limitsFor(form, input) {
    try {
      var all = JSON.parse(input.getAttribute("data-limits") || "{}");
      return all[studio.provider(form)] || null;
    } catch (error) {
      return null;
    }
  }

  // --- The pixel caps, before upload ------------------------------------------------------
  // The photo's kind and pixel size read from its first bytes as the server reads them
  // (editor.images): a photo over its kind's cap is named at once, in the server's words and
  // with its numbers (data-pixel-caps), and never decoded by the browser.

  var HEAD_BYTES = 256 * 1024;
  var PROGRESSIVE = { 0xC2: true, 0xC6: true, 0xCA: true, 0xCE: true };

  function jpegSize(bytes, view) {
    var at = 2;
    while (at + 9 < bytes.length) {
      if (bytes[at] !== 0xFF) { return null; }
      var marker = bytes[at + 1];
      if (marker === 0xFF) { at += 1; continue; }
      if (marker === 0x01 || (marker >= 0xD0 && marker <= 0xD8)) { at += 2; continue; }
      if (marker >= 0xC0 && marker <= 0xCF && marker !== 0xC4 && marker !== 0xC8 && marker !== 0xCC) {
        return { width: view.getUint16(at + 7), height: view.getUint16(at + 5), progressive: !!PROGRESSIVE[marker] };
      }
      at += 2 + view.getUint16(at + 2);
    }
    return null;
  }

  function webpSize(bytes, view) {
    var chunk = String.fromCharCode(bytes[12], bytes[13], bytes[14], bytes[15]);
    if (chunk === "VP8X") {
      return { width: 1 + (view.getUint32(24, true) & 0xFFFFFF), height: 1 + (view.getUint32(27, true) & 0xFFFFFF) };
    }
    if (chunk === "VP8L") {
      var bits = view.getUint32(21, true);
      return { width: 1 + (bits & 0x3FFF), height: 1 + ((bits >>> 14) & 0x3FFF) };
    }
    if (chunk === "VP8 ") {
      return { width: view.getUint16(26, true) & 0x3FFF, height: view.getUint16(28, true) & 0x3FFF };
    }
    return null;
  }

  // HEIC and AVIF: the largest "ispe" (image spatial extents) property is the primary
  // picture's (a grid's tiles are smaller).
  function isobmffSize(bytes, view) {
    var best = null;
    for (var at = 4; at + 16 <= bytes.length; at++) {
      if (bytes[at] === 0x69 && bytes[at + 1] === 0x73 && bytes[at + 2] === 0x70 && bytes[at + 3] === 0x65) {
        var found = { width: view.getUint32(at + 8), height: view.getUint32(at + 12) };
        if (!best || found.width * found.height > best.width * best.height) { best = found; }
      }
    }
    return best;
  }

  function sizeOf(bytes, view, format) {
    if (bytes.length < 32) { return null; }
    if (bytes[0] === 0xFF && bytes[1] === 0xD8) { return jpegSize(bytes, view); }
    if (bytes[0] === 0x89 && bytes[1] === 0x50) {
      return { width: view.getUint32(16), height: view.getUint32(20) };
    }
    if (bytes[8] === 0x57 && bytes[9] === 0x45 && bytes[10] === 0x42 && bytes[11] === 0x50) {
      return webpSize(bytes, view);
    }
    return format === "HEIF" || format === "AVIF" ? isobmffSize(bytes, view) : null;
  }

  // {format, width, height, progressive} from the file's first bytes, or null.
  function readHeader(file, format) {
    return file.slice(0, HEAD_BYTES).arrayBuffer().then(function (buffer) {
      var bytes = new Uint8Array(buffer);
      var size = sizeOf(bytes, new DataView(buffer), format);
      if (!size || !(size.width > 0 && size.height > 0)) { return null; }
      var names = { 0xFF: "JPEG", 0x89: "PNG", 0x52: "WEBP" };
      size.format = names[bytes[0]] || format;
      return size;
    }, function () { return null; });
  }

  // Megapixels to a tenth, without a trailing ".0", as the server writes them: a cap rounded
  // down, a photo's size up.
  function megapixels(pixels, up) {
    var tenths = up ? Math.ceil(pixels / 100000) : Math.floor(pixels / 100000);
    return studio.number(tenths / 10, tenths % 10 ? 1 : 0);
  }

  function pixelCaps(input) {
    try {
      return JSON.parse(input.getAttribute("data-pixel-caps") || "null");
    } catch (error) {
      return null;
    }
  }

  // The server's sentence for a photo over its kind's cap, or "" when it is within it.
  function overCap(input, header) {
    var caps = pixelCaps(input);
    if (!caps || !header) { return ""; }
    var kind = header.format === "JPEG" && header.progressive ? "progressive JPEG" : header.format;
    var cap = caps.caps[kind];
    var pixels = header.width * header.height;
    if (!cap || pixels <= cap) { return ""; }
    var text = studio.format(caps.too_many, {
      width: studio.number(header.width),
      height: studio.number(header.height),
      megapixels: megapixels(pixels, true),
      format: caps.labels[kind],
      cap: megapixels(cap, false)
    });
    if (kind !== "JPEG") { text += " " + studio.format(caps.save_as_jpeg, { jpeg_cap: caps.jpeg_cap }); }
    return text;
  }

  function warn(form, input) {
    var zone = zoneOf(input);
    var warning = zone.querySelector("[data-warning]");
    var photo = input._photo;
    var limits = limitsFor(form, input);
    var lines = [];
    // A mask is made to match the photo on the server, whatever its own size.
    if (photo && photo.file && photo.width && limits && input.getAttribute("data-role") !== "mask") {
      var values = {
        vendor: limits.vendor,
        width: studio.number(photo.width),
        height: studio.number(photo.height),
        bytes: bytesText(form, photo.file.size),
        max_width: studio.number(limits.max_width),
        max_height: studio.number(limits.max_height),
        max_bytes: bytesText(form, limits.max_bytes),
        min_width: studio.number(limits.min_width),
        min_height: studio.number(limits.min_height),
        format: UNSHOWN[FORMATS[typeOf(photo.file)]] || FORMATS[typeOf(photo.file)] || photo.file.type
      };
      if (photo.width < limits.min_width || photo.height < limits.min_height) {
        lines.push(studio.say(form, "too_small", values));
      }
      var caps = pixelCaps(input);
      if (photo.width > limits.max_width || photo.height > limits.max_height) {
        lines.push(studio.say(form, "too_big", values));
      } else if (caps && FORMATS[typeOf(photo.file)] === "JPEG" && photo.width * photo.height > caps.jpeg_full_decode) {
        lines.push(studio.format(caps.decoded_smaller, values));
      }
      if (photo.file.size > limits.max_bytes) {
        lines.push(studio.say(form, "too_heavy", values));
      }
      if (limits.formats.indexOf(FORMATS[typeOf(photo.file)]) === -1) {
        lines.push(studio.say(form, "convert", values));
      }
    }
    if (input._problem) { lines.unshift(input._problem); }
    warning.textContent = lines.join(" ");
    warning.hidden = lines.length === 0;
  }

  function show(form, input) {
    var zone = zoneOf(input);
    if (!zone) { return; }
    var box = zone.querySelector("[data-preview-box]");
    var image = zone.querySelector("[data-preview]");
    var info = zone.querySelector("[data-info]");
    var file = input.files && input.files[0];
    var note = input._note || "";
    input._note = "";
    function noted(text) { return note ? text + " " + note : text; }
    if (input._previewUrl) {
      URL.revokeObjectURL(input._previewUrl);
      input._previewUrl = null;
    }
    input._photo = null;
    input._problem = "";
    zone.classList.remove("upload--chosen");
    box.hidden = true;
    info.textContent = "";
    if (!file || !isPhoto(file)) {
      if (file) { input._problem = studio.say(form, "not_image"); }
      warn(form, input);
      if (!file && reuse(form, input)) { return; }
      input.dispatchEvent(new CustomEvent("photo:cleared", { bubbles: true }));
      return;
    }
    readHeader(file, FORMATS[typeOf(file)]).then(function (header) {
      if (!input.files || input.files[0] !== file) { return; }
      var over = overCap(input, header);
      if (over) {
        input._problem = over;
        zone.classList.add("upload--chosen");
        warn(form, input);
        input.dispatchEvent(new CustomEvent("photo:cleared", { bubbles: true }));
        return;
      }
      preview(form, input, file, zone, noted);
    });
  }

  function preview(form, input, file, zone, noted) {
    var box = zone.querySelector("[data-preview-box]");
    var image = zone.querySelector("[data-preview]");
    var info = zone.querySelector("[data-info]");
    if (UNSHOWN[FORMATS[typeOf(file)]]) {
      // No preview, and no size until the server reads it: say what it is and what happens.
      info.textContent = studio.say(form, "unshown", { name: file.name, format: UNSHOWN[FORMATS[typeOf(file)]], bytes: bytesText(form, file.size) });
      if (input.files.length > 1) {
        info.textContent = studio.say(form, "batch", { count: studio.number(input.files.length), first: info.textContent });
      }
      info.textContent = noted(info.textContent);
      zone.classList.add("upload--chosen");
      input._photo = { url: "", width: 0, height: 0, file: file };
      warn(form, input);
      input.dispatchEvent(new CustomEvent("photo:cleared", { bubbles: true }));
      return;
    }
    var url = URL.createObjectURL(file);
    input._previewUrl = url;
    image.onload = function () {
      if (input._previewUrl !== url) { return; }
      input._photo = { url: url, width: image.naturalWidth, height: image.naturalHeight, file: file };
      image.alt = studio.say(form, "preview_alt", { name: file.name });
      info.textContent = studio.say(form, "size", {
        width: studio.number(image.naturalWidth),
        height: studio.number(image.naturalHeight),
        bytes: bytesText(form, file.size)
      });
      // Several photos: a batch, one job each with the same settings.
      if (input.files.length > 1) {
        info.textContent = studio.say(form, "batch", { count: studio.number(input.files.length), first: info.textContent });
      }
      info.textContent = noted(info.textContent);
      box.hidden = false;
      zone.classList.add("upload--chosen");
      warn(form, input);
      input.dispatchEvent(new CustomEvent("photo:preview", { bubbles: true, detail: input._photo }));
    };
    image.onerror = function () {
      if (input._previewUrl !== url) { return; }
      input._problem = studio.say(form, "unreadable");
      warn(form, input);
      input.dispatchEvent(new CustomEvent("photo:cleared", { bubbles: true }));
    };
    image.src = url;
  }

  // "Run again": the earlier job's photo stands in while no new file is chosen, so the
  // extender and the mask painter can show it (its size is the size the server will use).
  function reuse(form, input) {
    var role = input.getAttribute("data-role");
    var item = form.querySelector("[data-reuse-role='" + role + "']");
    var image = item && item.querySelector("img");
    var keep = form.querySelector("input[name='reuse_" + role + "']");
    if (!image || !keep || !keep.checked) { return false; }
    function announce() {
      if (input.files && input.files.length) { return; }
      if (!image.naturalWidth) { return; }
      input._photo = { url: image.currentSrc || image.src, width: image.naturalWidth, height: image.naturalHeight, file: null };
      input.dispatchEvent(new CustomEvent("photo:preview", { bubbles: true, detail: input._photo }));
    }
    if (image.complete) { announce(); } else { image.addEventListener("load", announce, { once: true }); }
    return true;
  }

  function firstImage(list) {
    for (var i = 0; list && i < list.length; i++) {
      if (isPhoto(list[i])) { return list[i]; }
    }
    return list && list.length ? list[0] : null;
  }

  function put(form, input, file) {
    if (!input || !file) { return; }
    studio.setFiles(input, [file]);
  }

  // Several photos dropped on a field that takes one (a style photo, a mask): the first is
  // used, and the field says so (``show`` adds the note to what it writes).
  function putFirst(form, input, file, count) {
    if (!input || !file) { return; }
    input._note = studio.say(form, "first_of_many", { count: studio.number(count), name: file.name });
    put(form, input, file);
  }

  studio.onForm("Upload", function (form) {
    form.querySelectorAll("[data-upload]").forEach(function (zone) {
      zone.querySelectorAll("[data-js-only]").forEach(function (node) { node.hidden = false; });
      var input = zone.querySelector("input[type=file]");
      if (input) { show(form, input); }
    });
    form.addEventListener("change", function (event) {
      var target = event.target;
      if (target.matches("input[type=file][data-limits]")) {
        show(form, target);
      } else if (/^reuse_/.test(target.name || "")) {
        var chosen = form.querySelector("input[type=file][data-role='" + target.name.slice(6) + "']");
        if (chosen) { show(form, chosen); }
      } else if (target.matches("[data-provider-select], [name=mode]")) {
        form.querySelectorAll("input[type=file][data-limits]").forEach(function (input) {
          if (input._photo || input._problem) { warn(form, input); }
        });
      }
    });
  });

  // --- Drag and drop, anywhere on the page -------------------------------------------------

  function carriesFiles(event) {
    var types = event.dataTransfer && event.dataTransfer.types;
    return !!types && Array.prototype.indexOf.call(types, "Files") !== -1;
  }

  var depth = 0;

  function dropping(form, on, element) {
    form.classList.toggle("is-dropping", on);
    form.querySelectorAll(".dropzone.is-over").forEach(function (zone) { zone.classList.remove("is-over"); });
    if (on) {
      var input = targetInput(form, element);
      var zone = input && zoneOf(input);
      if (zone) { zone.querySelector(".dropzone").classList.add("is-over"); }
    }
  }

  document.addEventListener("dragenter", function (event) {
    var form = formOf();
    if (!form || !carriesFiles(event)) { return; }
    depth += 1;
    dropping(form, true, event.target);
  });
  document.addEventListener("dragover", function (event) {
    var form = formOf();
    if (!form || !carriesFiles(event)) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    dropping(form, true, event.target);
  });
  document.addEventListener("dragleave", function (event) {
    var form = formOf();
    if (!form || !carriesFiles(event)) { return; }
    depth = Math.max(0, depth - 1);
    if (depth === 0) { dropping(form, false); }
  });
  document.addEventListener("drop", function (event) {
    var form = formOf();
    if (!form || !carriesFiles(event)) { return; }
    event.preventDefault();
    depth = 0;
    dropping(form, false);
    var input = targetInput(form, event.target);
    var photos = Array.prototype.filter.call(event.dataTransfer.files, isPhoto);
    if (input && input.multiple && photos.length > 1) {
      studio.setFiles(input, photos);
    } else {
      if (photos.length > 1) {
        putFirst(form, input, photos[0], photos.length);
      } else {
        put(form, input, firstImage(event.dataTransfer.files));
      }
    }
  });

  // --- Paste --------------------------------------------------------------------------------

  document.addEventListener("paste", function (event) {
    var form = formOf();
    var data = event.clipboardData;
    if (!form || !data) { return; }
    var files = [];
    if (data.files && data.files.length) {
      files = Array.prototype.slice.call(data.files);
    } else if (data.items) {
      Array.prototype.forEach.call(data.items, function (item) {
        if (item.kind === "file") {
          var file = item.getAsFile();
          if (file) { files.push(file); }
        }
      });
    }
    var file = firstImage(files);
    // Text pasted into a text field stays text.
    if (!isPhoto(file)) { return; }
    event.preventDefault();
    if (!file.name || file.name === "image.png") {
      file = new File([file], "pasted-" + Date.now() + "." + (file.type.split("/")[1] || "png"), { type: file.type });
    }
    put(form, targetInput(form, document.activeElement), file);
  });
})();

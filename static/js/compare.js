// Job page: the before/after slider (pointer drag for mouse, pen and touch; arrow keys, Page
// Up/Down, Home and End on the focused divider), choosing which variant the slider shows, and
// the full-size view in a dialog. Without this script the slider stays half before, half after
// and the links open the variant or the file instead. The results arrive in the job page's
// polled status fragment, so sliders are set up again on every htmx:load.
(function () {
  "use strict";

  var STEP = 5;
  var PAGE = 25;

  function clamp(value) {
    return Math.max(0, Math.min(100, value));
  }

  function setPosition(compare, value) {
    var position = clamp(value);
    compare.dataset.position = String(position);
    compare.style.setProperty("--pos", position + "%");
    var divider = compare.querySelector("[data-compare-divider]");
    var now = Math.round(position);
    divider.setAttribute("aria-valuenow", String(now));
    divider.setAttribute("aria-valuetext", now + " %");
  }

  function positionAt(compare, clientX) {
    var rect = compare.getBoundingClientRect();
    return rect.width ? ((clientX - rect.left) / rect.width) * 100 : 50;
  }

  function bind(compare) {
    if (compare.dataset.bound) { return; }
    compare.dataset.bound = "1";
    var divider = compare.querySelector("[data-compare-divider]");
    var wrap = compare.closest(".ba-wrap");
    var hint = wrap && wrap.querySelector("[data-compare-hint]");
    divider.hidden = false;
    if (hint) { hint.hidden = false; }
    compare.classList.add("ba--live");
    setPosition(compare, Number(divider.getAttribute("aria-valuenow")) || 50);

    var dragging = null;

    compare.addEventListener("pointerdown", function (event) {
      if (event.pointerType === "mouse" && event.button !== 0) { return; }
      dragging = event.pointerId;
      compare.setPointerCapture(event.pointerId);
      compare.classList.add("ba--dragging");
      // A touch that starts on the picture may be a scroll (touch-action: pan-y lets the page
      // scroll vertically): only a sideways move or a touch on the divider itself moves it.
      if (event.pointerType !== "touch" || divider.contains(event.target)) {
        setPosition(compare, positionAt(compare, event.clientX));
      }
      divider.focus({ preventScroll: true });
      if (event.pointerType === "mouse") { event.preventDefault(); }
    });
    compare.addEventListener("pointermove", function (event) {
      if (dragging !== event.pointerId) { return; }
      setPosition(compare, positionAt(compare, event.clientX));
    });
    function stop(event) {
      if (dragging !== event.pointerId) { return; }
      dragging = null;
      compare.classList.remove("ba--dragging");
      if (compare.hasPointerCapture(event.pointerId)) {
        compare.releasePointerCapture(event.pointerId);
      }
    }
    compare.addEventListener("pointerup", stop);
    compare.addEventListener("pointercancel", stop);

    divider.addEventListener("keydown", function (event) {
      var now = Number(divider.getAttribute("aria-valuenow"));
      var next = null;
      switch (event.key) {
        case "ArrowLeft":
        case "ArrowDown":
          next = now - STEP;
          break;
        case "ArrowRight":
        case "ArrowUp":
          next = now + STEP;
          break;
        case "PageDown":
          next = now - PAGE;
          break;
        case "PageUp":
          next = now + PAGE;
          break;
        case "Home":
          next = 0;
          break;
        case "End":
          next = 100;
          break;
        default:
          return;
      }
      event.preventDefault();
      setPosition(compare, next);
    });
  }

  function init(root) {
    if (!root || !root.querySelectorAll) { return; }
    if (root.matches && root.matches("[data-compare]")) { bind(root); }
    root.querySelectorAll("[data-compare]").forEach(bind);
  }

  // --- Which variant the slider shows ------------------------------------------------------

  function pick(link) {
    var results = link.closest("[data-results]");
    var compare = results && results.querySelector("[data-compare]");
    if (!compare) { return false; }
    var after = compare.querySelector("[data-compare-after]");
    after.src = link.dataset.src;
    after.alt = link.dataset.alt;
    var full = results.querySelector("[data-compare-full]");
    if (full) { full.href = link.dataset.src; }
    var caption = results.querySelector("[data-compare-caption]");
    if (caption) { caption.textContent = link.dataset.caption; }
    results.querySelectorAll("[data-compare-pick]").forEach(function (other) {
      if (other === link) {
        other.setAttribute("aria-current", "true");
      } else {
        other.removeAttribute("aria-current");
      }
    });
    var reduce = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    compare.scrollIntoView({ block: "nearest", behavior: reduce ? "auto" : "smooth" });
    return true;
  }

  // --- Full size ------------------------------------------------------------------------------

  function zoomDialog(results) {
    var dialog = document.getElementById("zoom-dialog");
    if (dialog) { return dialog; }
    dialog = document.createElement("dialog");
    dialog.id = "zoom-dialog";
    dialog.className = "zoom-dialog";
    dialog.setAttribute("aria-label", results.dataset.zoomTitle || "");
    var bar = document.createElement("div");
    bar.className = "zoom-dialog__bar";
    var open = document.createElement("a");
    open.className = "button button--small";
    open.target = "_blank";
    open.rel = "noopener";
    open.textContent = results.dataset.openLabel || "";
    open.setAttribute("data-zoom-open", "");
    var close = document.createElement("button");
    close.type = "button";
    close.className = "button button--small";
    close.textContent = results.dataset.closeLabel || "";
    close.autofocus = true;
    close.addEventListener("click", function () { dialog.close(); });
    bar.appendChild(open);
    bar.appendChild(close);
    var body = document.createElement("div");
    body.className = "zoom-dialog__body";
    var image = document.createElement("img");
    body.appendChild(image);
    dialog.appendChild(bar);
    dialog.appendChild(body);
    // A click on the backdrop (outside the dialog's box) closes it, like Escape.
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) { dialog.close(); }
    });
    document.body.appendChild(dialog);
    return dialog;
  }

  function zoom(link) {
    var results = link.closest("[data-results]");
    if (!results || typeof HTMLDialogElement === "undefined") { return false; }
    var dialog = zoomDialog(results);
    var image = dialog.querySelector("img");
    var inner = link.querySelector("img");
    var after = results.querySelector("[data-compare-after]");
    image.src = link.href;
    image.alt = (inner || after).alt;
    dialog.querySelector("[data-zoom-open]").href = link.href;
    dialog.showModal();
    return true;
  }

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0) { return; }
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) { return; }
    var target = event.target.closest("[data-compare-pick], a[data-zoom]");
    if (!target) { return; }
    var handled = target.hasAttribute("data-zoom") ? zoom(target) : pick(target);
    if (handled) { event.preventDefault(); }
  });

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });
})();

// Shared album: a full-screen viewer over the gallery. A photo's link opens it; the arrow keys
// (or a swipe on a touch screen, or the buttons) go to the previous and next photo, Escape or
// Close shut it and give focus back to the photo it started from. Without this script every
// photo is a plain link to the image.
(function () {
  "use strict";

  function build(grid) {
    var links = Array.prototype.slice.call(grid.querySelectorAll("[data-viewer-photo]"));
    if (!links.length || typeof HTMLDialogElement === "undefined") { return; }
    var dialog = document.createElement("dialog");
    dialog.className = "viewer";
    dialog.setAttribute("aria-label", grid.dataset.labelViewer || "");
    var figure = document.createElement("figure");
    figure.className = "viewer__figure";
    var img = document.createElement("img");
    img.className = "viewer__image";
    img.setAttribute("data-viewer-image", "");
    var caption = document.createElement("figcaption");
    caption.className = "viewer__caption";
    caption.setAttribute("aria-live", "polite");
    figure.appendChild(img);
    figure.appendChild(caption);

    function button(label, cls, text) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "viewer__button " + cls;
      b.setAttribute("aria-label", label);
      b.textContent = text;
      return b;
    }
    var prev = button(grid.dataset.labelPrev || "Previous", "viewer__prev", "‹");
    var next = button(grid.dataset.labelNext || "Next", "viewer__next", "›");
    var close = button(grid.dataset.labelClose || "Close", "viewer__close", "×");
    dialog.appendChild(close);
    dialog.appendChild(prev);
    dialog.appendChild(figure);
    dialog.appendChild(next);
    document.body.appendChild(dialog);

    var current = 0;
    function show(index) {
      current = (index + links.length) % links.length;
      var link = links[current];
      var thumb = link.querySelector("img");
      img.src = link.getAttribute("href");
      img.alt = thumb ? thumb.alt : "";
      caption.textContent = link.dataset.caption || "";
      dialog.dataset.index = String(current);
    }
    function open(index) {
      show(index);
      if (!dialog.open) { dialog.showModal(); }
      close.focus();
    }

    links.forEach(function (link, index) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        open(index);
      });
    });
    prev.addEventListener("click", function () { show(current - 1); });
    next.addEventListener("click", function () { show(current + 1); });
    close.addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("close", function () { links[current].focus(); });
    dialog.addEventListener("keydown", function (event) {
      if (event.key === "ArrowLeft") { event.preventDefault(); show(current - 1); }
      else if (event.key === "ArrowRight") { event.preventDefault(); show(current + 1); }
      // Escape: the dialog closes itself (the "close" event gives focus back).
    });

    var startX = null;
    dialog.addEventListener("touchstart", function (event) {
      startX = event.changedTouches[0].clientX;
    }, { passive: true });
    dialog.addEventListener("touchend", function (event) {
      if (startX === null) { return; }
      var dx = event.changedTouches[0].clientX - startX;
      startX = null;
      if (Math.abs(dx) > 40) { show(current + (dx < 0 ? 1 : -1)); }
    });
  }

  document.querySelectorAll("[data-album-viewer]").forEach(build);
})();

// Job feedback on every page. While the signed-in person has jobs under way (<body
// data-active-jobs>), poll the job feed (editor/feed_views.py) every few seconds; each job that
// ends becomes a toast with a link to it (on that job's own page, a line in the page instead:
// a toast would cover the result), a badge on the tab's title and favicon until the tab is
// looked at again, and a browser notification if the person allowed them (offered once, on the
// page of a job under way; the browser asks only when they press "Enable notifications"). On a
// job page the title and favicon change as soon as the status fragment shows the job ended.
// Without this script nothing is lost: the job page and the studio show every status.
(function () {
  "use strict";

  var OVERLAP_MS = 5000; // re-ask a little of the past: a job may commit just after a poll
  var CURSOR_MAX_AGE_MS = 60000; // a cursor left by the previous page is used this long
  var TOAST_MS = 10000;
  var SEEN_MAX = 50;
  var ENDED = ["succeeded", "failed", "canceled"];

  var body, feedUrl, pollMs, since, timer = null, polling = false;
  var favicon, faviconHref, baseTitle, badgeCount = 0, badgeFailed = false;
  var jobStatus = null, jobLabel = null;

  // --- Small storage helpers (private windows may refuse storage) ---------------------------

  function load(store, key, fallback) {
    try {
      var raw = window[store].getItem(key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (error) {
      return fallback;
    }
  }

  function save(store, key, value) {
    try {
      if (value === null) {
        window[store].removeItem(key);
      } else {
        window[store].setItem(key, JSON.stringify(value));
      }
    } catch (error) { /* storage is a nicety here */ }
  }

  function seenKey(job) { return job.id + ":" + job.finished_at; }

  function alreadySeen(job) {
    return load("sessionStorage", "notify:seen", []).indexOf(seenKey(job)) !== -1;
  }

  function markSeen(job) {
    var seen = load("sessionStorage", "notify:seen", []);
    seen.push(seenKey(job));
    save("sessionStorage", "notify:seen", seen.slice(-SEEN_MAX));
  }

  // --- Title and favicon badge -----------------------------------------------------------

  function showBadge(status) {
    badgeCount += 1;
    badgeFailed = badgeFailed || status !== "succeeded";
    renderTitle();
    if (favicon) {
      var href = favicon.getAttribute(badgeFailed ? "data-failed" : "data-done");
      if (href) { favicon.setAttribute("href", href); }
    }
  }

  function renderTitle() {
    var prefix = "";
    if (badgeCount) {
      prefix = (badgeFailed ? "✕ " : "✓ ") + (badgeCount > 1 ? "(" + badgeCount + ") " : "");
    }
    document.title = prefix + baseTitle;
  }

  function clearBadge() {
    if (!badgeCount) { return; }
    badgeCount = 0;
    badgeFailed = false;
    renderTitle();
    if (favicon) { favicon.setAttribute("href", faviconHref); }
  }

  function looking() {
    return document.visibilityState === "visible" && document.hasFocus();
  }

  // --- Toasts and notifications -------------------------------------------------------------

  function dismiss(toast) {
    if (toast.parentNode) { toast.parentNode.removeChild(toast); }
  }

  function showToast(job) {
    var region = document.getElementById("toasts");
    var template = document.getElementById("toast-template");
    if (!region || !template) { return; }
    var toast = template.content.firstElementChild.cloneNode(true);
    toast.classList.add("toast--" + job.status);
    toast.setAttribute("data-job", job.id);
    toast.querySelector(".toast__icon").textContent = job.status === "succeeded" ? "✓" : "✕";
    toast.querySelector(".toast__text").textContent = job.message;
    toast.querySelector(".toast__link").setAttribute("href", job.url);
    toast.querySelector(".toast__close").addEventListener("click", function () { dismiss(toast); });
    region.appendChild(toast);
    // Auto-dismiss, but not while the pointer or the keyboard focus is on the toast, and only
    // while the tab is in view: a toast in a background tab waits for the person to come back.
    var left = TOAST_MS;
    var started = 0;
    var countdown = null;
    function pause() {
      if (countdown === null) { return; }
      window.clearTimeout(countdown);
      countdown = null;
      left = Math.max(left - (Date.now() - started), 2000);
    }
    function resume() {
      if (countdown !== null || document.visibilityState !== "visible") { return; }
      if (toast.matches(":hover") || toast.contains(document.activeElement)) { return; }
      started = Date.now();
      countdown = window.setTimeout(function () { dismiss(toast); }, left);
    }
    function shown() {
      if (!toast.isConnected) {
        document.removeEventListener("visibilitychange", shown);
      } else if (document.visibilityState === "visible") {
        resume();
      } else {
        pause();
      }
    }
    document.addEventListener("visibilitychange", shown);
    resume();
    toast.addEventListener("mouseenter", pause);
    toast.addEventListener("focusin", pause);
    toast.addEventListener("mouseleave", resume);
    toast.addEventListener("focusout", function () { window.setTimeout(resume, 0); });
  }

  function sayEndedHere(job) {
    var line = document.getElementById("job-ended");
    if (!line) { return; }
    var text = job.message + " " + (line.getAttribute("data-" + job.status) || "");
    // Said once: the swap that shows the end says it (watchJobPage), and the feed's word on
    // the same job is the same sentence, so nothing moves under a pointer afterwards.
    if (!line.hidden && line.textContent === text) { return; }
    line.textContent = text;
    line.hidden = false;
  }

  function notify(job) {
    if (!("Notification" in window) || Notification.permission !== "granted" || looking()) {
      return;
    }
    var region = document.getElementById("toasts");
    try {
      var notification = new Notification(job.message, {
        body: region ? region.getAttribute("data-site") || "" : "",
        tag: "job-" + job.id,
        icon: favicon ? favicon.getAttribute(job.status === "succeeded" ? "data-done" : "data-failed") : undefined
      });
      notification.onclick = function () {
        window.focus();
        window.location.href = job.url;
        notification.close();
      };
    } catch (error) { /* some browsers allow notifications only from a service worker */ }
  }

  function announce(job) {
    if (alreadySeen(job)) { return; }
    markSeen(job);
    if (onJobPage(job)) {
      // The page already shows the result: a toast would cover it and link to this very page.
      // Say it in place instead (canceling is something the person just did here: no line).
      if (job.status !== "canceled") { sayEndedHere(job); }
    } else {
      showToast(job);
      showBadge(job.status);
    }
    notify(job);
  }

  function onJobPage(job) {
    // The job page badges its own job from the status fragment (see watchJobPage).
    return jobStatus !== null && window.location.pathname === job.url;
  }

  // --- The feed ----------------------------------------------------------------------------

  function schedule(delay) {
    window.clearTimeout(timer);
    timer = window.setTimeout(poll, delay);
  }

  function poll() {
    if (polling) { return; }
    polling = true;
    var url = feedUrl + "?since=" + encodeURIComponent(String(since));
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (!response.ok || type.indexOf("application/json") === -1) {
          throw new Error("feed unavailable");
        }
        return response.json();
      })
      .then(function (data) {
        polling = false;
        // Oldest first, so the newest toast ends up at the bottom, nearest the eye.
        data.jobs.slice().reverse().forEach(announce);
        since = Math.max(since, data.now - OVERLAP_MS);
        if (data.active > 0) {
          save("sessionStorage", "notify:cursor", { since: since, at: Date.now() });
          showOffer();
          schedule(pollMs);
        } else {
          save("sessionStorage", "notify:cursor", null);
        }
      })
      .catch(function () {
        polling = false; // signed out or offline: stop; the next page load starts again
      });
  }

  // --- Job page: its own status fragment says when the job ends ------------------------------

  function currentJobSection() { return document.getElementById("job-status"); }

  function badgeText(section) {
    var badge = section.querySelector(".badge");
    return badge ? badge.textContent.trim() : null;
  }

  function watchJobPage() {
    var section = currentJobSection();
    if (!section) { return; }
    jobStatus = section.getAttribute("data-status");
    jobLabel = badgeText(section);
    // On the swap itself, not its settle 20 ms later: the line above the status appears in the
    // same frame as the end it announces, never after the page has shown its new links.
    document.addEventListener("htmx:afterSwap", function () {
      var current = currentJobSection();
      if (!current) { return; }
      var status = current.getAttribute("data-status");
      var label = badgeText(current);
      // Keep the status word in the title in step with the page ("Colorize · Running").
      if (jobLabel && label && label !== jobLabel && baseTitle.indexOf(jobLabel) !== -1) {
        baseTitle = baseTitle.replace(jobLabel, label);
        renderTitle();
      }
      jobLabel = label;
      if (status !== jobStatus && ENDED.indexOf(status) !== -1) {
        var message = current.getAttribute("data-ended");
        if (message && status !== "canceled") { sayEndedHere({ message: message, status: status }); }
        showBadge(status);
        poll(); // the feed brings the toast and the notification now, not at the next tick
      }
      jobStatus = status;
    });
  }

  // On a job page, another job's toast goes in the page's flow above the status, never over
  // the result (the fixed corner of the screen is where a large result shows on a phone).
  function placeToasts() {
    var region = document.getElementById("toasts");
    var anchor = document.getElementById("job-ended");
    if (!region || !anchor || !currentJobSection()) { return; }
    anchor.parentNode.insertBefore(region, anchor);
    region.classList.add("toasts--inline");
  }

  // --- "Enable notifications" -------------------------------------------------------------

  // Asked once: the offer is only on the page of a job under way (the page a person lands on
  // after starting one), shown the first time, and never again once shown, whatever the answer.
  function showOffer() {
    var offer = document.getElementById("notify-offer");
    if (!offer || !("Notification" in window)) { return; }
    if (!offer.hidden) { return; }
    if (Notification.permission !== "default" || load("localStorage", "notify:asked", false)) {
      return;
    }
    save("localStorage", "notify:asked", true);
    offer.hidden = false;
  }

  function bindOffer() {
    var offer = document.getElementById("notify-offer");
    if (!offer) { return; }
    var enable = offer.querySelector("[data-notify-enable]");
    var decline = offer.querySelector("[data-notify-decline]");
    function close() { offer.hidden = true; }
    enable.addEventListener("click", function () {
      var asked = Notification.requestPermission(function () { close(); });
      if (asked && asked.then) { asked.then(close, close); }
    });
    decline.addEventListener("click", close);
  }

  // --- Start --------------------------------------------------------------------------------

  function start() {
    body = document.body;
    favicon = document.getElementById("favicon");
    faviconHref = favicon ? favicon.getAttribute("href") : null;
    baseTitle = document.title;
    ["focus", "pointerdown", "keydown"].forEach(function (name) {
      window.addEventListener(name, function () { if (looking()) { clearBadge(); } }, true);
    });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") { clearBadge(); }
    });
    watchJobPage();
    placeToasts();

    feedUrl = body.getAttribute("data-job-feed");
    if (!feedUrl) { return; } // signed out
    bindOffer();
    pollMs = parseInt(body.getAttribute("data-poll-ms"), 10) || 3000;
    since = parseInt(body.getAttribute("data-jobs-since"), 10) || Date.now();
    var active = parseInt(body.getAttribute("data-active-jobs"), 10) || 0;
    // A job may end while the person moves between pages: the previous page's cursor covers it.
    var cursor = load("sessionStorage", "notify:cursor", null);
    var carried = cursor && Date.now() - cursor.at < CURSOR_MAX_AGE_MS && cursor.since < since;
    if (carried) { since = cursor.since; }
    if (active > 0) {
      showOffer();
      schedule(carried ? 0 : pollMs);
    } else if (carried) {
      schedule(0);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

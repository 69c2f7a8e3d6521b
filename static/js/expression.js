// Facial expression pickers. The <select> fields stay the values the form posts (and what works
// without this script); they step out of sight and radio choices drive them:
// - the classic expressions as cards with a short description (rendered by the template);
// - the advanced editor's long list as a radio list with a text filter.
(function () {
  "use strict";

  var studio = window.studioForm;

  function tuck(select) {
    // Out of sight and out of the tab order: the radios below are the control people use.
    select.classList.add("visually-hidden");
    select.tabIndex = -1;
    select.setAttribute("aria-hidden", "true");
    var label = select.id && select.form && select.form.querySelector("label[for='" + select.id + "']");
    if (label) {
      label.id = label.id || select.id + "_label";
      label.removeAttribute("for");
    }
    return label;
  }

  function drive(select, group) {
    function fromSelect() {
      group.querySelectorAll("input[type=radio]").forEach(function (radio) {
        radio.checked = radio.value === select.value;
      });
    }
    group.addEventListener("change", function (event) {
      if (event.target.type !== "radio") { return; }
      event.stopPropagation();
      select.value = event.target.value;
      select.dispatchEvent(new Event("change", { bubbles: true }));
    });
    select.addEventListener("change", fromSelect);
    select.addEventListener("input", fromSelect);
    fromSelect();
  }

  studio.onForm("Expression", function (form) {
    form.querySelectorAll("[data-choice-cards]").forEach(function (cards) {
      var select = document.getElementById(cards.getAttribute("data-choice-cards"));
      if (!select) { return; }
      var label = tuck(select);
      if (label) { cards.setAttribute("aria-labelledby", label.id); }
      cards.hidden = false;
      drive(select, cards);
    });

    form.querySelectorAll("[data-filter-for]").forEach(function (search) {
      var select = document.getElementById(search.getAttribute("data-filter-for"));
      if (!select) { return; }
      var wrapper = search.closest("[data-listbox-search]");
      var count = wrapper.querySelector("[data-filter-count]");
      var label = tuck(select);
      var list = document.createElement("div");
      list.className = "radio-list";
      list.id = select.id + "_choices";
      list.setAttribute("role", "radiogroup");
      if (label) { list.setAttribute("aria-labelledby", label.id); }
      Array.prototype.forEach.call(select.options, function (option) {
        var item = document.createElement("label");
        item.className = "radio-list__item";
        var radio = document.createElement("input");
        radio.type = "radio";
        radio.name = select.name + "_pick";
        radio.value = option.value;
        var name = document.createElement("span");
        name.textContent = option.textContent;
        item.appendChild(radio);
        item.appendChild(name);
        item.dataset.search = (option.textContent + " " + option.value.replace(/_/g, " ")).toLowerCase();
        list.appendChild(item);
      });
      wrapper.after(list);
      search.setAttribute("aria-controls", list.id);
      wrapper.hidden = false;
      drive(select, list);

      var total = select.options.length;
      function filter() {
        var words = search.value.toLowerCase().replace(/_/g, " ").split(/\s+/).filter(Boolean);
        var shown = 0;
        list.querySelectorAll(".radio-list__item").forEach(function (item) {
          var match = words.every(function (word) { return item.dataset.search.indexOf(word) !== -1; });
          item.hidden = !match;
          if (match) { shown += 1; }
        });
        if (!words.length) {
          count.textContent = "";
        } else if (shown) {
          count.textContent = studio.say(form, "filter_count", { count: studio.number(shown), total: studio.number(total) });
        } else {
          count.textContent = studio.say(form, "filter_none", { query: search.value.trim() });
        }
      }
      search.addEventListener("input", filter);
      search.addEventListener("keydown", function (event) {
        var first = list.querySelector(".radio-list__item:not([hidden]) input");
        if (event.key === "Enter") {
          // Enter picks the first match instead of sending the form.
          event.preventDefault();
          if (first) {
            first.checked = true;
            first.dispatchEvent(new Event("change", { bubbles: true }));
          }
        } else if (event.key === "ArrowDown" && first) {
          event.preventDefault();
          var checked = list.querySelector(".radio-list__item:not([hidden]) input:checked");
          (checked || first).focus();
        }
      });
      var picked = list.querySelector("input:checked");
      if (picked) {
        // Show the current choice without scrolling the page.
        list.scrollTop = picked.parentNode.offsetTop - list.offsetTop - 8;
      }
    });
  });
})();

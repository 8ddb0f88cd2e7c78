/* Search-as-you-type pickers (academy.common.widgets.LookupPicker).
 *
 * A [data-picker] holds a text box (role=combobox), a results list (role=listbox) and, in
 * model mode, a hidden input with the chosen record's id. Typing asks the lookup URL
 * (?q=...) for at most a screenful of matches; arrows move through them, Enter or a click
 * chooses one, Escape closes the list. In text mode the chosen record's number is put in
 * the text box itself. The server checks the choice against the user's scope either way.
 */
(function () {
  "use strict";

  var DELAY_MS = 200;
  var counter = 0;

  function setup(root) {
    if (root.dataset.pickerReady) return;
    root.dataset.pickerReady = "1";

    var input = root.querySelector(".picker-input");
    var hidden = root.querySelector("[data-picker-value]");
    var list = root.querySelector(".picker-results");
    var status = root.querySelector("[data-picker-status]");
    var url = root.dataset.lookupUrl;
    var textMode = root.dataset.mode === "text";
    var items = [];
    var active = -1;
    var timer = null;
    var controller = null;
    var lastQuery = null;
    var prefix = "picker-" + (++counter) + "-option-";

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function open() {
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function highlight(index) {
      var options = list.querySelectorAll("[role=option]");
      if (!options.length) return;
      active = (index + options.length) % options.length;
      options.forEach(function (option, i) {
        option.setAttribute("aria-selected", i === active ? "true" : "false");
      });
      input.setAttribute("aria-activedescendant", options[active].id);
      options[active].scrollIntoView({ block: "nearest" });
    }

    function choose(index) {
      var item = items[index];
      if (!item) return;
      if (textMode) {
        input.value = item.number;
      } else {
        input.value = item.text;
        hidden.value = item.id;
        hidden.dispatchEvent(new Event("change", { bubbles: true }));
      }
      lastQuery = input.value;
      status.textContent = item.text + " chosen.";
      close();
    }

    function render(results, query) {
      items = results;
      list.replaceChildren();
      active = -1;
      if (!results.length) {
        var empty = document.createElement("li");
        empty.className = "picker-empty";
        empty.textContent = "No match for “" + query + "”.";
        list.appendChild(empty);
        status.textContent = "No match.";
        open();
        return;
      }
      results.forEach(function (item, i) {
        var option = document.createElement("li");
        option.id = prefix + i;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.className = "picker-option";
        var label = document.createElement("strong");
        label.textContent = item.label;
        option.appendChild(label);
        if (item.detail) {
          var detail = document.createElement("span");
          detail.className = "muted";
          detail.textContent = item.detail;
          option.appendChild(document.createTextNode(" "));
          option.appendChild(detail);
        }
        option.addEventListener("mousedown", function (event) {
          event.preventDefault(); // keep the focus in the text box
          choose(i);
        });
        list.appendChild(option);
      });
      status.textContent = results.length + (results.length === 1 ? " match" : " matches") + "; arrows to move, Enter to choose.";
      open();
    }

    function search() {
      var query = input.value.trim();
      if (query === lastQuery) return;
      lastQuery = query;
      if (controller) controller.abort();
      if (!query) {
        items = [];
        list.replaceChildren();
        close();
        return;
      }
      controller = new AbortController();
      var separator = url.indexOf("?") === -1 ? "?" : "&";
      fetch(url + separator + "q=" + encodeURIComponent(query), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        signal: controller.signal,
      })
        .then(function (response) {
          if (!response.ok) throw new Error(response.status);
          return response.json();
        })
        .then(function (data) {
          if (input.value.trim() === query) render(data.results || [], query);
        })
        .catch(function (error) {
          if (error.name === "AbortError") return;
          lastQuery = null; // typing the same text again tries again
          status.textContent = "The search failed; type the number instead.";
        });
    }

    input.addEventListener("input", function () {
      if (hidden && hidden.value) {
        hidden.value = ""; // what is typed no longer names the chosen record
        hidden.dispatchEvent(new Event("change", { bubbles: true }));
      }
      clearTimeout(timer);
      timer = setTimeout(search, DELAY_MS);
    });

    input.addEventListener("keydown", function (event) {
      var isOpen = !list.hidden && items.length > 0;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (list.hidden && items.length) open();
        highlight(active + 1);
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        highlight(active - 1);
      } else if (event.key === "Enter") {
        if (isOpen) {
          event.preventDefault(); // choosing, not submitting
          if (active >= 0 || items.length === 1) {
            choose(active >= 0 ? active : 0);
          } else {
            highlight(0); // several matches and none picked yet: the first is highlighted, Enter again chooses it
          }
        }
      } else if (event.key === "Escape") {
        if (!list.hidden) {
          event.preventDefault();
          close();
        }
      }
    });

    input.addEventListener("blur", function () {
      setTimeout(close, 150);
    });
  }

  function setupAll(scope) {
    (scope || document).querySelectorAll("[data-picker]").forEach(setup);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      setupAll(document);
    });
  } else {
    setupAll(document);
  }
  document.addEventListener("htmx:load", function (event) {
    if (event.target && event.target.querySelectorAll) setupAll(event.target);
  });
})();

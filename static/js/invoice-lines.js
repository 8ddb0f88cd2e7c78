/* The lines of a new invoice (templates/staff/finance_invoice_new.html).
 *
 * "Add a line" copies the empty line of <template id="invoice-line-template"> (a Django
 * formset's empty form: __prefix__ becomes the next index, TOTAL_FORMS grows); "Remove"
 * ticks the line's DELETE box and hides it. Each line shows its amount (its unit amount,
 * else its fee structure's, times the quantity) and the total of all of them follows as
 * the user types. Choosing the student asks the page for the fee structures of their
 * location (?part=structures&student=) and offers only those.
 *
 * Without JavaScript the same form works: "Add a line" posts it back with one more line,
 * the DELETE boxes stay visible, and the server shows the total. The server computes
 * every amount again; nothing here is trusted.
 */
(function () {
  "use strict";

  // the plain decimals the server takes (academy.common.money.money_parse): "10", "10.5", "10.", ".5"
  var MONEY = /^\s*(\d{0,10})(?:\.(\d{0,2}))?\s*$/;

  function cents(text) {
    var match = MONEY.exec(text || "");
    if (!match || (!match[1] && !match[2])) return null;
    return parseInt(match[1] || "0", 10) * 100 + parseInt(((match[2] || "") + "00").slice(0, 2), 10);
  }

  function format(value) {
    var whole = Math.floor(value / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return whole + "." + ("0" + (value % 100)).slice(-2);
  }

  function field(row, name) {
    return row.querySelector("[name$='-" + name + "']");
  }

  function setup(form) {
    if (form.dataset.invoiceLinesReady) return;
    form.dataset.invoiceLinesReady = "1";

    var list = form.querySelector("[data-line-list]");
    var template = form.querySelector("#invoice-line-template");
    var total = form.querySelector("[data-invoice-total]");
    var totalForms = form.querySelector("input[name$='-TOTAL_FORMS']");
    var maxForms = form.querySelector("input[name$='-MAX_NUM_FORMS']");
    var addButton = form.querySelector("[data-add-line]");
    var scope = form.querySelector("[data-structure-scope]");
    var structuresUrl = form.dataset.structuresUrl;
    if (!list || !template || !totalForms) return;

    function rows() {
      return Array.prototype.slice.call(list.querySelectorAll("[data-invoice-line]"));
    }

    function lineAmount(row) {
      if (row.hidden) return 0;
      var structure = field(row, "fee_structure");
      var unit = field(row, "unit_amount");
      var quantity = field(row, "quantity");
      var unitText = unit ? unit.value.trim() : "";
      var price = null;
      if (unitText) {
        price = cents(unitText);
      } else if (structure && structure.selectedOptions.length) {
        price = cents(structure.selectedOptions[0].dataset.amount);
      }
      var count = quantity && quantity.value.trim() ? Number(quantity.value) : 1;
      if (price === null || !Number.isInteger(count) || count < 1) return null;
      return price * count;
    }

    function update() {
      var sum = 0;
      rows().forEach(function (row) {
        var amount = lineAmount(row);
        var output = row.querySelector("[data-line-amount]");
        if (output) output.textContent = amount === null ? "—" : format(amount);
        if (amount) sum += amount;
      });
      if (total) total.textContent = format(sum);
      var max = maxForms ? parseInt(maxForms.value, 10) : 1000;
      if (addButton) addButton.disabled = parseInt(totalForms.value, 10) >= max;
    }

    function prepare(row) {
      var check = row.querySelector("[data-remove-check]");
      var button = row.querySelector("[data-remove-line]");
      if (check && button) {
        check.hidden = true;
        button.hidden = false;
      }
      var box = field(row, "DELETE");
      if (box && box.checked) row.hidden = true; // removed before the page came back
    }

    function addLine() {
      var index = parseInt(totalForms.value, 10);
      var max = maxForms ? parseInt(maxForms.value, 10) : 1000;
      if (index >= max) return;
      var holder = document.createElement("div");
      holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index));
      var row = holder.querySelector("[data-invoice-line]");
      list.appendChild(row);
      totalForms.value = String(index + 1);
      prepare(row);
      update();
      var first = row.querySelector("select, input:not([type=hidden])");
      if (first) first.focus();
    }

    function removeLine(row) {
      var box = field(row, "DELETE");
      if (box) box.checked = true;
      row.hidden = true;
      update();
      if (addButton) addButton.focus();
    }

    function offer(structures, location) {
      var selects = Array.prototype.slice.call(list.querySelectorAll("select[name$='-fee_structure']"));
      selects = selects.concat(Array.prototype.slice.call(template.content.querySelectorAll("select[name$='-fee_structure']")));
      var dropped = false;
      selects.forEach(function (select) {
        var chosen = select.value;
        var blank = select.querySelector("option[value='']");
        select.replaceChildren();
        if (blank) select.appendChild(blank);
        structures.forEach(function (structure) {
          var option = document.createElement("option");
          option.value = structure.id;
          option.textContent = structure.label;
          option.dataset.amount = structure.amount;
          select.appendChild(option);
        });
        select.value = chosen;
        if (select.value !== chosen) {
          select.value = "";
          dropped = dropped || chosen !== "";
        }
      });
      if (scope) {
        scope.textContent = location
          ? "Fee structures of " + location + ", the student's location." +
            (dropped ? " A line's fee structure was of another location: choose it again." : "")
          : "Choose the student first: the lines then offer only the fee structures of their location.";
      }
      update();
    }

    var structuresRequest = null;

    function studentChosen(value) {
      if (!structuresUrl) return;
      var url = structuresUrl + (value ? "&student=" + encodeURIComponent(value) : "");
      // only the answer for the student chosen last counts
      if (structuresRequest) structuresRequest.abort();
      structuresRequest = new AbortController();
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", signal: structuresRequest.signal })
        .then(function (response) {
          if (!response.ok) throw new Error(response.status);
          return response.json();
        })
        .then(function (data) {
          offer(data.structures || [], data.location);
        })
        .catch(function (error) {
          if (error.name === "AbortError") return;
          if (scope) scope.textContent = "The fee structures could not be loaded; the server still checks the location.";
        });
    }

    if (addButton) {
      addButton.type = "button"; // Enter in a field issues the invoice, not a new line
      addButton.addEventListener("click", addLine);
    }
    list.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-line]");
      if (button) removeLine(button.closest("[data-invoice-line]"));
    });
    list.addEventListener("input", update);
    list.addEventListener("change", update);
    form.addEventListener("change", function (event) {
      if (event.target.name === "student") studentChosen(event.target.value);
    });
    rows().forEach(prepare);
    update();
  }

  function setupAll() {
    document.querySelectorAll("[data-invoice-form]").forEach(setup);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setupAll);
  } else {
    setupAll();
  }
})();

/* The skill-rating screen (templates/grading/staff/skills_section.html).
 *
 * A tap on a rating saves that cell at once: the cell (a fieldset with hx-post) is asked
 * to send itself with the "skill-save" event, and the server answers with the cell again,
 * saved or with its error, plus the student's "ready" flag out of band. A rating below
 * the previous one first shows the cell's reason field; its Save button (or Enter) sends
 * the cell with the reason. A cell that could not be sent stays marked as pending, and
 * "Save all" posts every pending tap of the screen at once, all or nothing.
 *
 * Without JavaScript the same form works: "Save all" posts the whole screen, and the
 * server asks for the reasons it needs. The server checks everything again.
 */
(function () {
  "use strict";

  var CELL = "[data-skill-cell]";

  function board() {
    return document.querySelector("[data-skill-board]");
  }

  function statusOf(cell, text) {
    var status = cell.querySelector("[data-skill-status]");
    if (status) status.textContent = text;
  }

  function countPending() {
    var form = board();
    if (!form) return;
    var output = form.querySelector("[data-skill-pending]");
    var count = form.querySelectorAll(CELL + ".is-pending").length;
    if (output) output.textContent = count ? count + " not saved yet" : "";
  }

  function pending(cell, text) {
    cell.classList.add("is-pending");
    cell.classList.remove("is-saved");
    statusOf(cell, text);
    countPending();
  }

  function reasonBox(cell) {
    return cell.querySelector("[data-skill-reason]");
  }

  function save(cell) {
    if (!window.htmx || !cell.hasAttribute("hx-post")) return false;
    pending(cell, "Saving…");
    window.htmx.trigger(cell, "skill-save");
    return true;
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!(input instanceof HTMLInputElement) || input.type !== "radio") return;
    var cell = input.closest(CELL);
    if (!cell || !board() || !board().contains(cell)) return;
    var previous = cell.dataset.previous;
    var box = reasonBox(cell);
    if (previous !== "" && Number(input.value) < Number(previous) && box) {
      box.hidden = false;
      pending(cell, "Lower than before: say why, then Save.");
      var field = box.querySelector("input");
      if (field) field.focus();
      return;
    }
    if (box && !cell.classList.contains("has-error")) box.hidden = true;
    if (!save(cell)) pending(cell, "Not saved yet: use Save all.");
  });

  // the reason's Save button and Enter in the reason field send the cell, not the screen
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-skill-save]") : null;
    if (!button) return;
    var cell = button.closest(CELL);
    if (cell && save(cell)) event.preventDefault();
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.target instanceof HTMLInputElement)) return;
    var box = event.target.closest("[data-skill-reason]");
    var cell = box ? box.closest(CELL) : null;
    if (cell && save(cell)) event.preventDefault();
  });

  // a cell answered with its error (400) is shown like a saved one; anything else (signed
  // out, no permission, a server error) leaves the cell pending with a word of explanation
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!(target instanceof Element) || !target.matches(CELL)) return;
    if (event.detail.xhr.getResponseHeader("X-Skill-Cell")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    } else {
      event.detail.shouldSwap = false;
      pending(target, "Not saved (" + event.detail.xhr.status + "): reload the page, or use Save all.");
    }
  });

  document.addEventListener("htmx:sendError", function (event) {
    var cell = event.detail.elt;
    if (cell instanceof Element && cell.matches(CELL)) pending(cell, "Not saved: no connection. Use Save all later.");
  });

  document.addEventListener("htmx:afterSettle", countPending);
})();

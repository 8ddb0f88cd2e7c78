/* A section's gradebook (templates/grading/staff/gradebook.html), filled from the keyboard.
 *
 * - Arrow keys move between cells (left and right once the caret is at the edge of the
 *   text); Enter saves the whole gradebook and moves down, Shift+Enter moves up; Escape
 *   puts the saved score back.
 * - As scores are typed, each student's draft percentage and grade follow, by the rule of
 *   grading.selectors.weighted_percentage (final=False) and the scale's bands: an excused
 *   score drops out and its weight is spread over the rest; a missing or empty one drops
 *   out of a draft. The arithmetic is Python's decimal module's (28 significant digits,
 *   half-even between steps, half-up to 0.01 at the end), so the page shows what the
 *   server will compute; after a save the server's own answer replaces it.
 * - Saving posts the same form the button posts (all or nothing) and asks for JSON: the
 *   errors come back per cell and are shown on the cell; nothing is half-saved.
 *
 * Without JavaScript the same form works: Enter or "Save gradebook" posts it and the page
 * comes back with the grades, or with the errors on their cells.
 */
(function () {
  "use strict";

  var PRECISION = 28;
  var TEN = BigInt(10);
  var ZERO = BigInt(0);
  var ONE = BigInt(1);
  var TWO = BigInt(2);
  var EXCUSED = ["e", "exc", "excused"];
  var MISSING = ["m", "miss", "missing"];

  // --- decimals: {c: BigInt coefficient, e: exponent}, value = c * 10^e, never negative here

  var DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

  function parse(text) {
    var match = DECIMAL.exec(text);
    if (!match || (!match[2] && !match[3])) return null;
    var fraction = match[3] || "";
    var exponent = -fraction.length + (match[4] ? parseInt(match[4], 10) : 0);
    if (Math.abs(exponent) > 1000) return null;
    var coefficient = BigInt((match[2] || "0") + fraction);
    return { c: match[1] === "-" ? -coefficient : coefficient, e: exponent };
  }

  function pow10(n) {
    return TEN ** BigInt(n);
  }

  function digitCount(c) {
    return (c < ZERO ? -c : c).toString().length;
  }

  // to PRECISION significant digits, half-even (Python's default context)
  function round(x) {
    var extra = digitCount(x.c) - PRECISION;
    if (extra <= 0) return x;
    var unit = pow10(extra);
    var quotient = x.c / unit;
    var twice = (x.c % unit) * TWO;
    if (twice > unit || (twice === unit && quotient % TWO === ONE)) quotient += ONE;
    return { c: quotient, e: x.e + extra };
  }

  function aligned(a, b) {
    var e = Math.min(a.e, b.e);
    return [a.c * pow10(a.e - e), b.c * pow10(b.e - e), e];
  }

  function add(a, b) {
    var x = aligned(a, b);
    return round({ c: x[0] + x[1], e: x[2] });
  }

  function multiply(a, b) {
    return round({ c: a.c * b.c, e: a.e + b.e });
  }

  function divide(a, b) {
    // enough digits for the rounding, plus a sticky digit when the division is inexact
    var shift = Math.max(0, PRECISION + 2 + digitCount(b.c) - digitCount(a.c));
    var numerator = a.c * pow10(shift);
    var quotient = numerator / b.c;
    var exponent = a.e - b.e - shift;
    if (numerator % b.c !== ZERO) {
      quotient = quotient * TEN + ONE;
      exponent -= 1;
    }
    return round({ c: quotient, e: exponent });
  }

  function compare(a, b) {
    var x = aligned(a, b);
    return x[0] < x[1] ? -1 : x[0] > x[1] ? 1 : 0;
  }

  // quantize(Decimal("0.01"), ROUND_HALF_UP)
  function toCents(x) {
    if (x.e >= -2) return { c: x.c * pow10(x.e + 2), e: -2 };
    var unit = pow10(-2 - x.e);
    var cents = x.c / unit;
    if ((x.c % unit) * TWO >= unit) cents += ONE;
    return { c: cents, e: -2 };
  }

  function formatCents(x) {
    var text = x.c.toString().padStart(3, "0");
    return text.slice(0, -2) + "." + text.slice(-2);
  }

  var HUNDRED = { c: BigInt(100), e: 0 };
  var NOTHING = { c: ZERO, e: 0 };

  // --- one cell -------------------------------------------------------------------------

  // {status, score, error} of what is typed in a cell (grading.staff_views.posted_cells and
  // grading.services.gradebook_save decide the same way)
  function reading(text, max) {
    var value = text.trim();
    if (!value) return { status: "none" };
    var word = value.toLowerCase();
    if (EXCUSED.indexOf(word) >= 0) return { status: "excused" };
    if (MISSING.indexOf(word) >= 0) return { status: "missing" };
    var number = parse(value);
    if (number === null) return { status: "scored", error: "Enter a number." };
    if (number.c < ZERO || compare(number, max) > 0) {
      return { status: "scored", error: "A score is from 0 to " + max.text + "." };
    }
    if (compare(toCents(number), number) !== 0) return { status: "scored", error: "At most two decimal places." };
    return { status: "scored", score: number };
  }

  function setup(form) {
    if (form.dataset.gradebookReady) return;
    form.dataset.gradebookReady = "1";

    var bandsNode = document.getElementById("gradebook-bands");
    var bands = (bandsNode ? JSON.parse(bandsNode.textContent) : []).map(function (band) {
      return { letter: band.letter, min: parse(band.min) };
    });
    var assessments = Array.prototype.map.call(form.querySelectorAll("th[data-assessment]"), function (head) {
      var max = parse(head.dataset.max);
      max.text = head.dataset.max.replace(/\.?0+$/, "");
      return { weight: parse(head.dataset.weight), max: max };
    });
    var statusNode = form.querySelector("[data-gradebook-status]");
    var rows = Array.prototype.slice.call(form.querySelectorAll("tr[data-editable]"));
    var inFlight = null;
    var again = false;
    var submitting = false;

    function inputsOf(row) {
      return Array.prototype.slice.call(row.querySelectorAll("input[data-cell]"));
    }

    function say(text, isError) {
      if (!statusNode) return;
      statusNode.textContent = text;
      statusNode.classList.toggle("is-error", Boolean(isError));
    }

    function letterFor(percentage) {
      for (var i = 0; i < bands.length; i++) {
        if (compare(percentage, bands[i].min) >= 0) return bands[i].letter;
      }
      return "";
    }

    function showGrade(row, percentage, letter) {
      row.querySelector("[data-percentage]").textContent = percentage === null ? "—" : percentage;
      row.querySelector("[data-grade]").textContent = letter || "—";
    }

    // the draft of one row, as grading.selectors.weighted_percentage(final=False)
    function recompute(row) {
      var earned = NOTHING;
      var counted = NOTHING;
      inputsOf(row).forEach(function (input) {
        var assessment = assessments[parseInt(input.dataset.col, 10)];
        var cell = reading(input.value, assessment.max);
        markClientError(input, cell.error);
        if (cell.status !== "scored" || cell.error) return;
        earned = add(earned, multiply(divide(cell.score, assessment.max), assessment.weight));
        counted = add(counted, assessment.weight);
      });
      if (counted.c === ZERO) {
        showGrade(row, null, "");
        return;
      }
      var percentage = toCents(divide(multiply(earned, HUNDRED), counted));
      showGrade(row, formatCents(percentage), letterFor(percentage));
    }

    function errorNode(input) {
      return input.parentNode.querySelector(".cell-error");
    }

    function markClientError(input, message) {
      if (errorNode(input)) return; // the server's error stays until the cell is edited
      if (message) {
        input.setAttribute("aria-invalid", "true");
        input.title = message;
      } else {
        input.removeAttribute("aria-invalid");
        input.removeAttribute("title");
      }
    }

    function setServerError(input, messages) {
      var node = errorNode(input);
      if (!messages || !messages.length) {
        if (node) node.remove();
        input.removeAttribute("aria-describedby");
        return;
      }
      if (!node) {
        node = document.createElement("span");
        node.className = "cell-error";
        node.id = input.id + "-error";
        node.dataset.testid = "cell-error";
        input.parentNode.appendChild(node);
      }
      node.textContent = messages.join(" ");
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", node.id);
    }

    function markDirty(input) {
      input.classList.toggle("is-dirty", input.value.trim() !== (input.dataset.saved || ""));
    }

    function dirty() {
      return Boolean(form.querySelector("input[data-cell].is-dirty"));
    }

    // --- moving around --------------------------------------------------------------------

    function moveTo(rowIndex, col) {
      var row = rows[rowIndex];
      if (!row) return false;
      var input = row.querySelector('input[data-col="' + col + '"]');
      if (!input) return false;
      input.focus();
      input.select();
      return true;
    }

    function position(input) {
      return { row: rows.indexOf(input.closest("tr")), col: parseInt(input.dataset.col, 10) };
    }

    function onKeyDown(event) {
      var input = event.target;
      if (!input.matches || !input.matches("input[data-cell]")) return;
      var at = position(input);
      var start = input.selectionStart;
      var end = input.selectionEnd;
      var length = input.value.length;
      var allSelected = start === 0 && end === length;
      switch (event.key) {
        case "ArrowUp":
          event.preventDefault();
          moveTo(at.row - 1, at.col);
          break;
        case "ArrowDown":
          event.preventDefault();
          moveTo(at.row + 1, at.col);
          break;
        case "ArrowLeft":
          if ((start === 0 && end === 0) || allSelected) {
            if (moveTo(at.row, at.col - 1)) event.preventDefault();
          }
          break;
        case "ArrowRight":
          if ((start === length && end === length) || allSelected) {
            if (moveTo(at.row, at.col + 1)) event.preventDefault();
          }
          break;
        case "Enter":
          event.preventDefault();
          save();
          moveTo(at.row + (event.shiftKey ? -1 : 1), at.col);
          break;
        case "Escape":
          input.value = input.dataset.saved || "";
          setServerError(input, null);
          markDirty(input);
          recompute(input.closest("tr"));
          input.select();
          break;
        default:
      }
    }

    function onInput(event) {
      var input = event.target;
      if (!input.matches || !input.matches("input[data-cell]")) return;
      setServerError(input, null); // being corrected
      markDirty(input);
      recompute(input.closest("tr"));
    }

    // --- saving ---------------------------------------------------------------------------

    function snapshot() {
      var values = {};
      form.querySelectorAll("input[data-cell]").forEach(function (input) {
        values[input.name] = input.value;
      });
      return values;
    }

    function apply(status, answer, sent) {
      var changedSince = {};
      form.querySelectorAll("input[data-cell]").forEach(function (input) {
        if (input.value !== sent[input.name]) {
          changedSince[input.closest("tr").dataset.student] = true;
          return;
        }
        setServerError(input, (answer.errors || {})[input.name]);
      });
      if (status !== 200) {
        var count = Object.keys(answer.errors || {}).length;
        var problems = (answer.problems || []).join(" ");
        say("Nothing was saved. " + (count ? count + (count === 1 ? " cell needs" : " cells need") + " correcting. " : "") + problems, true);
        return;
      }
      form.querySelectorAll("input[data-cell]").forEach(function (input) {
        if (input.value !== sent[input.name] || !(input.name in (answer.cells || {}))) return;
        input.dataset.saved = answer.cells[input.name];
        if (document.activeElement !== input || input.value.trim() !== input.dataset.saved) {
          input.value = answer.cells[input.name];
        }
        markDirty(input);
      });
      rows.forEach(function (row) {
        var student = row.dataset.student;
        var grade = (answer.rows || {})[student];
        if (changedSince[student] || !grade) {
          recompute(row);
          return;
        }
        showGrade(row, grade.percentage, grade.letter);
      });
      var saved = answer.saved || 0;
      say(saved ? "Saved " + saved + (saved === 1 ? " score." : " scores.") : "Saved: nothing had changed.", false);
    }

    function save() {
      if (inFlight) {
        again = true;
        return;
      }
      var sent = snapshot();
      say("Saving…", false);
      form.setAttribute("aria-busy", "true");
      inFlight = fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json", "X-Requested-With": "fetch" },
        credentials: "same-origin",
      })
        .then(function (response) {
          if ((response.headers.get("Content-Type") || "").indexOf("application/json") !== 0) {
            say("Not saved (" + response.status + "): reload the page and try again.", true);
            return null;
          }
          return response.json().then(function (answer) {
            apply(response.status, answer, sent);
          });
        })
        .catch(function () {
          say("Not saved: the page could not reach the server. Try again, or use Save gradebook.", true);
        })
        .then(function () {
          inFlight = null;
          form.removeAttribute("aria-busy");
          if (again) {
            again = false;
            save();
          }
        });
    }

    form.addEventListener("keydown", onKeyDown);
    form.addEventListener("input", onInput);
    form.addEventListener("submit", function () {
      submitting = true;
    });
    window.addEventListener("beforeunload", function (event) {
      if (submitting || !(dirty() || inFlight)) return;
      event.preventDefault();
      event.returnValue = "";
    });
    form.querySelectorAll("input[data-cell]").forEach(function (input) {
      markDirty(input);
    });
    rows.forEach(function (row) {
      // a page shown again with errors: its typed values, not the saved ones
      if (row.querySelector("input[data-cell].is-dirty")) recompute(row);
    });
    form.dataset.gradebookLive = "1";
  }

  function start() {
    document.querySelectorAll("form[data-gradebook]").forEach(setup);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

// The admin page's script: downloads, the typed confirmation and removal progress.
//
// Every API call sends "Authorization: JWT <token>" with a fresh context token from
// AP.context.getToken(), which Atlassian's Connect script provides. The page uses no
// cookies, so fetch() runs with credentials "omit".
(function () {
  "use strict";

  const TOKEN_TIMEOUT_MS = 10000;
  const POLL_INTERVAL_MS = 1000;
  const MAX_POLL_INTERVAL_MS = 10000;

  const root = document.getElementById("propledger-admin");
  if (!root) {
    return;
  }
  const api = root.dataset.api;
  const host = root.dataset.host;
  const labels = JSON.parse(root.dataset.labels || "{}");

  class PageError extends Error {}

  function contextToken() {
    return new Promise(function (resolve, reject) {
      const ap = window.AP;
      if (!ap || !ap.context || typeof ap.context.getToken !== "function") {
        reject(new PageError(
          "This page could not connect to Jira, because Atlassian's Connect script did not " +
          "load. Open the page again from Jira's administration."
        ));
        return;
      }
      const timer = window.setTimeout(function () {
        reject(new PageError(
          "Jira did not give this page a token within 10 seconds. " +
          "Open the page again from Jira's administration."
        ));
      }, TOKEN_TIMEOUT_MS);
      ap.context.getToken(function (token) {
        window.clearTimeout(timer);
        if (token) {
          resolve(token);
        } else {
          reject(new PageError(
            "Jira gave this page no token. Open the page again from Jira's administration."
          ));
        }
      });
    });
  }

  async function errorMessage(response) {
    try {
      const body = await response.json();
      if (body && typeof body.error === "string") {
        return body.error;
      }
    } catch (ignored) {
      // The body is not JSON, so the generic message below applies.
    }
    return "The app returned HTTP status " + response.status + ". Try again, and contact " +
      "the app's vendor if it keeps failing.";
  }

  async function apiFetch(path, options) {
    const token = await contextToken();
    const init = Object.assign({}, options || {});
    init.headers = Object.assign({}, init.headers || {}, { Authorization: "JWT " + token });
    init.credentials = "omit";
    init.cache = "no-store";
    let response;
    try {
      response = await fetch(api + path, init);
    } catch (error) {
      throw new PageError("The app could not be reached. Check your connection and try again.");
    }
    if (!response.ok) {
      throw new PageError(await errorMessage(response));
    }
    return response;
  }

  function messageOf(error) {
    if (error instanceof PageError) {
      return error.message;
    }
    return "Something went wrong in this page: " + error + ". Reload it from Jira and try again.";
  }

  function showMessage(element, text) {
    element.textContent = text;
    element.hidden = !text;
  }

  function filenameOf(response, fallback) {
    const disposition = response.headers.get("Content-Disposition") || "";
    const match = /filename="([^"]+)"/.exec(disposition);
    return match ? match[1] : fallback;
  }

  async function download(path, fallbackName) {
    const response = await apiFetch(path);
    const blob = await response.blob();
    const name = filenameOf(response, fallbackName);
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    link.hidden = true;
    document.body.append(link);
    link.click();
    link.remove();
    window.setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
    return name;
  }

  async function runButton(button, status, busyText, work) {
    button.disabled = true;
    status.textContent = busyText;
    try {
      const name = await work();
      status.textContent = "Downloaded " + name + ".";
    } catch (error) {
      status.textContent = messageOf(error);
    } finally {
      button.disabled = false;
    }
  }

  // Downloads of the inventory.

  const exportStatus = document.getElementById("export-message");
  const exportNames = { csv: "CSV", jsonl: "JSON Lines" };
  document.querySelectorAll("[data-export]").forEach(function (button) {
    button.addEventListener("click", function () {
      const format = button.dataset.export;
      runButton(button, exportStatus, "Preparing the " + exportNames[format] + " file…", function () {
        return download("/inventory/export?format=" + format, "inventory." + format);
      });
    });
  });

  // Receipts of removals.

  const receiptStatus = document.getElementById("receipt-message");
  document.querySelectorAll("[data-receipt]").forEach(function (button) {
    button.addEventListener("click", function () {
      const jobId = button.dataset.receipt;
      runButton(button, receiptStatus, "Preparing the receipt…", function () {
        return download(
          "/removals/" + encodeURIComponent(jobId) + "/receipt", "removal-" + jobId + ".json"
        );
      });
    });
  });

  // The inventory table, refreshed once a removal ends.

  function setCell(selector, value) {
    const cell = root.querySelector(selector);
    if (cell) {
      cell.textContent = String(value);
    }
  }

  async function refreshInventory() {
    const body = await (await apiFetch("/inventory")).json();
    const totals = { stored: 0, removed: 0, gone: 0 };
    Object.entries(body.counts).forEach(function ([entityType, states]) {
      const row = {
        stored: (states.present || 0) + (states.pending || 0),
        removed: states.removed || 0,
        gone: states.gone || 0,
      };
      Object.keys(totals).forEach(function (name) {
        totals[name] += row[name];
        setCell('tr[data-entity-type="' + entityType + '"] [data-state="' + name + '"]', row[name]);
      });
    });
    Object.keys(totals).forEach(function (name) {
      setCell('[data-total="' + name + '"]', totals[name]);
    });
    document.getElementById("inventory-summary").textContent = totals.stored
      ? "The app stores " + plural(totals.stored, "property", "properties") + " in this site."
      : "The app stores no data in this site.";
  }

  // The typed confirmation and the start of a removal.

  const form = document.getElementById("remove-form");
  const confirmInput = document.getElementById("confirm-host");
  const removeButton = document.getElementById("remove-button");
  const removeMessage = document.getElementById("remove-message");

  function confirmationMatches() {
    return confirmInput.value.trim().toLowerCase() === host.toLowerCase();
  }

  if (form) {
    confirmInput.addEventListener("input", function () {
      removeButton.disabled = !confirmationMatches();
    });
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (!confirmationMatches()) {
        return;
      }
      removeButton.disabled = true;
      showMessage(removeMessage, "");
      try {
        const response = await apiFetch("/removals", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ confirm: confirmInput.value.trim() }),
        });
        const status = await response.json();
        showProgress(status.id, true);
      } catch (error) {
        showMessage(removeMessage, messageOf(error));
        removeButton.disabled = !confirmationMatches();
      }
    });
  }

  // Progress of a removal, polled from the status API.

  const progress = document.getElementById("removal-progress");
  const progressHeading = document.getElementById("progress-heading");
  const progressStatus = document.getElementById("progress-status");
  const progressList = document.getElementById("progress-list");
  const outcome = document.getElementById("removal-outcome");

  function plural(count, singular, many) {
    return count + " " + (count === 1 ? singular : many);
  }

  function tally(states) {
    const total = Object.values(states).reduce(function (sum, count) { return sum + count; }, 0);
    const open = (states.pending || 0) + (states.in_flight || 0);
    const removed = (states.deleted || 0) + (states.gone || 0);
    return { total: total, done: total - open, removed: removed, issues: total - open - removed };
  }

  function renderProgress(status) {
    progressList.replaceChildren();
    Object.entries(status.counts).forEach(function ([entityType, states]) {
      const counts = tally(states);
      const label = labels[entityType] || entityType + " properties";
      const item = document.createElement("li");
      const name = document.createElement("span");
      name.className = "progress-label";
      name.id = "progress-" + entityType;
      name.textContent = label.charAt(0).toUpperCase() + label.slice(1);
      const bar = document.createElement("progress");
      bar.max = Math.max(counts.total, 1);
      bar.value = counts.done;
      bar.setAttribute("aria-labelledby", name.id);
      const text = document.createElement("span");
      text.className = "progress-count";
      text.textContent = counts.done + " of " + counts.total + " done" +
        (counts.issues ? ", " + counts.issues + " not removed" : "");
      item.append(name, bar, text);
      progressList.append(item);
    });
  }

  function outcomeText(status) {
    const totals = status.totals;
    const all = tally(totals);
    const alreadyGone = totals.gone || 0;
    if (status.state === "completed") {
      if (all.total === 0) {
        return "The removal is complete: the app had no data left in " + host + ".";
      }
      return "The removal is complete: " + plural(totals.deleted || 0, "property was", "properties were") +
        " deleted from " + host + (alreadyGone ? ", and " + alreadyGone + " had already gone" : "") + ".";
    }
    const parts = [];
    if (totals.not_verified) {
      parts.push(totals.not_verified + " not verified, because Jira returned 404 for an entity " +
        "the app cannot see, so the property may be hidden rather than deleted");
    }
    if (totals.forbidden) {
      parts.push(totals.forbidden + " refused by Jira for lack of permission");
    }
    if (totals.failed) {
      parts.push(totals.failed + " failed after retries");
    }
    return "The removal finished, but " + all.issues + " of " +
      plural(all.total, "property", "properties") + " could not be confirmed as removed: " +
      parts.join("; ") + ". The receipt lists each of them with the reason. Open this page " +
      "again from Jira to start another removal.";
  }

  async function finish(status) {
    progressHeading.textContent = "Removal finished";
    progressStatus.textContent = outcomeText(status);
    outcome.querySelector("[data-receipt]").dataset.receipt = status.id;
    outcome.hidden = false;
    try {
      await refreshInventory();
    } catch (error) {
      showMessage(document.getElementById("page-message"), messageOf(error));
    }
  }

  async function poll(jobId, interval) {
    let status;
    try {
      status = await (await apiFetch("/removals/" + encodeURIComponent(jobId))).json();
    } catch (error) {
      const next = Math.min(interval * 2, MAX_POLL_INTERVAL_MS);
      progressStatus.textContent = "The progress could not be updated: " + messageOf(error) +
        " Trying again in " + Math.round(next / 1000) + " seconds.";
      window.setTimeout(function () { poll(jobId, next); }, next);
      return;
    }
    renderProgress(status);
    if (!status.active) {
      await finish(status);
      return;
    }
    const all = tally(status.totals);
    progressStatus.textContent = "Removing the app's data: " + all.done + " of " +
      plural(all.total, "property", "properties") + " done.";
    window.setTimeout(function () { poll(jobId, POLL_INTERVAL_MS); }, POLL_INTERVAL_MS);
  }

  function showProgress(jobId, moveFocus) {
    document.getElementById("remove-start").hidden = true;
    progress.hidden = false;
    if (moveFocus) {
      progressHeading.focus();
    }
    poll(jobId, POLL_INTERVAL_MS);
  }

  if (root.dataset.activeRemoval) {
    showProgress(root.dataset.activeRemoval, false);
    progress.scrollIntoView({ block: "start" });
  }
})();

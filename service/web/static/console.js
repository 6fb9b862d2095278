// The console's entry point: language, the API key (asked once per browser tab), who is signed in, which
// sections the role may see, and switching between sections. The server checks every role itself; hiding
// controls here only keeps the page honest about what the key can do.

import { ApiError, call, forgetKey, rememberKey, storedKey } from "./api.js";
import { clearMessage, el, report } from "./dom.js";
import { loadCatalogue, preferredLanguage, setLanguage } from "./i18n.js";
import { wireEnterprises } from "./enterprises.js";
import { loadModel, wireModel } from "./model.js";
import { loadOverview } from "./overview.js";
import { loadQueue, wireQueue } from "./queue.js";
import { wireAdhoc } from "./recommend.js";

// The role a section needs -> the roles that hold it, as ``ALLOWED`` in service/api/security.py.
const ALLOWED = {
  caseworker: ["caseworker", "analyst", "curator", "admin"],
  analyst: ["analyst", "admin"],
  curator: ["curator", "admin"],
  admin: ["admin"],
  provincial: ["provincial"],  // outside the others: only what names it
};
const byId = (id) => document.getElementById(id);
let caller = null;

/** Whether the caller may see what needs `needed`: one role or several separated by spaces. */
function allowed(needed) {
  if (caller === null) return false;
  return needed.split(" ").some((role) => (ALLOWED[role] ?? []).includes(caller.role));
}

function showKeyPanel(problemLabel) {
  caller = null;
  byId("workspace").hidden = true;
  byId("who").hidden = true;
  byId("key-panel").hidden = false;
  const problem = byId("key-error");
  problem.hidden = !problemLabel;
  problem.replaceChildren(problemLabel ? el("span", { i18n: problemLabel }) : "");
  const input = byId("key-input");
  input.value = "";
  input.focus();
}

function showView(name) {
  const tab = document.querySelector(`.tab[data-view="${name}"]`);
  if (!tab || tab.hidden) return;
  for (const other of document.querySelectorAll(".tab")) {
    if (other === tab) other.setAttribute("aria-current", "page");
    else other.removeAttribute("aria-current");
  }
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== `view-${name}`;
  clearMessage();
  if (name === "model") loadModel();
  if (name === "queue") loadQueue({ role: caller.role });
  if (name === "overview") loadOverview();
}

function enterWorkspace() {
  for (const node of document.querySelectorAll("[data-needs-role]")) node.hidden = !allowed(node.dataset.needsRole);
  byId("who-role").replaceChildren(el("span", { i18n: `role_${caller.role}` }));
  byId("who").hidden = false;
  byId("key-panel").hidden = true;
  byId("workspace").hidden = false;
  const first = document.querySelector(".tab:not([hidden])");
  if (first) showView(first.dataset.view);
  if (first && first.dataset.view === "enterprises") byId("search-q").focus();
}

async function signIn(key) {
  try {
    const { data } = await call("GET", "/v1/me", { key });
    rememberKey(key);
    caller = data;
    clearMessage();
    enterWorkspace();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      forgetKey();
      showKeyPanel("key_invalid");
    } else {
      showKeyPanel(null);
      report(error);
    }
  }
}

function wire() {
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.addEventListener("click", () => setLanguage(button.dataset.lang));
  }
  byId("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = byId("key-input").value.trim();
    byId("key-input").value = "";
    if (key) signIn(key);
    else showKeyPanel("key_empty");
  });
  byId("forget-key").addEventListener("click", () => {
    forgetKey();
    showKeyPanel(null);
  });
  document.addEventListener("smematch:unauthorised", () => {
    forgetKey();
    showKeyPanel("key_invalid");
  });
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => showView(tab.dataset.view));
  }
  wireEnterprises();
  wireAdhoc();
  wireModel();
  wireQueue(() => caller);
}

async function start() {
  await loadCatalogue();
  setLanguage(preferredLanguage());
  wire();
  const key = storedKey();
  if (key) await signIn(key);
  else showKeyPanel(null);
  document.body.dataset.ready = "true";
}

start().catch((error) => {
  const box = byId("message");
  box.textContent = `The console could not start: ${error && error.message ? error.message : error}`;
  box.hidden = false;
});

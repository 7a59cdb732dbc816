/** The status page's entry: polls the status API, wires the token form and the "try it" panel. */
import { byId } from "./dom.js";
import { startStatus } from "./status.js";
import { currentToken, setToken } from "./token.js";
import { setupTryIt } from "./try-it.js";

const tokenForm = byId<HTMLFormElement>("token-form");
const tokenInput = byId<HTMLInputElement>("token-input");
tokenInput.value = currentToken();

const poller = startStatus({
  nodes: byId("nodes"),
  stats: byId("stats"),
  rooms: byId("rooms"),
  gateway: byId("gateway"),
  state: byId("state"),
  tokenForm,
  tokenMessage: byId("token-message"),
});

tokenForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  setToken(tokenInput.value.trim().replace(/^bearer\s+/i, ""));
  poller.refresh();
});

setupTryIt({
  form: byId<HTMLFormElement>("try-form"),
  message: byId<HTMLInputElement>("try-message"),
  repeat: byId<HTMLInputElement>("try-repeat"),
  unary: byId<HTMLButtonElement>("try-unary"),
  stream: byId<HTMLButtonElement>("try-stream"),
  stop: byId<HTMLButtonElement>("try-stop"),
  status: byId("try-status"),
  output: byId<HTMLOListElement>("try-output"),
});

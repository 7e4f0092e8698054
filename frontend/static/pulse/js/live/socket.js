// One websocket to /ws/o/<org>/apps/<app>/live/ that reconnects by itself with jittered
// exponential backoff, and shows its state in a small indicator (data-state on the element:
// connecting / live / offline). ``onOpen(isReconnect)`` is where pages fill the gap from the
// query layer; ``onMessage(msg)`` receives the parsed JSON messages.

const MIN_DELAY = 1000;
const MAX_DELAY = 30000;

const LABELS = { connecting: "Connecting…", live: "Live", offline: "Offline – reconnecting" };

export function setIndicator(el, state) {
  if (!el) return;
  el.dataset.state = state;
  const label = el.querySelector(".live-label");
  if (label) label.textContent = LABELS[state] || state;
  el.title = state === "live" ? "Receiving data as it arrives" : "Not connected; retrying";
}

export function socketUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${path}`;
}

export function connectLive(path, { indicator, onOpen, onMessage }) {
  let ws = null;
  let attempts = 0;
  let opened = false;
  let timer = null;
  let stopped = false;

  function schedule() {
    if (stopped || timer) return;
    const base = Math.min(MAX_DELAY, MIN_DELAY * 2 ** Math.min(attempts, 5));
    const delay = base / 2 + Math.random() * (base / 2);
    attempts += 1;
    timer = setTimeout(() => {
      timer = null;
      open();
    }, delay);
  }

  function open() {
    if (stopped) return;
    setIndicator(indicator, opened ? "offline" : "connecting");
    try {
      ws = new WebSocket(socketUrl(path));
    } catch (err) {
      schedule();
      return;
    }
    ws.addEventListener("open", () => {
      attempts = 0;
      setIndicator(indicator, "live");
      const isReconnect = opened;
      opened = true;
      if (onOpen) onOpen(isReconnect);
    });
    ws.addEventListener("message", (event) => {
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      if (onMessage) onMessage(msg);
    });
    ws.addEventListener("close", () => {
      ws = null;
      setIndicator(indicator, "offline");
      schedule();
    });
  }

  // Coming back online (laptop lid, network switch): retry now instead of after the backoff.
  window.addEventListener("online", () => {
    if (!ws && timer) {
      clearTimeout(timer);
      timer = null;
      open();
    }
  });

  open();
  return {
    // For tests and for pages that want to drop the connection on purpose.
    close() {
      if (ws) ws.close();
    },
    stop() {
      stopped = true;
      if (ws) ws.close();
    },
    get socket() {
      return ws;
    },
  };
}

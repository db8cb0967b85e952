// What the page's scripts share on window.
interface Window {
  /** boot.js's early /info, /authorise and WebSocket, taken by main.js. */
  __mfdBoot: Promise<{ info?: any; auth?: any; key?: string; ws?: WebSocket | null }> | null;
  /** main.js's state for the browser tests and `make bench` (main.js's Probe). */
  __mfd: unknown;
}

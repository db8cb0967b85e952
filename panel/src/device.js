// @ts-check
// What makes a tablet a dedicated device: the screen kept on (Screen Wake
// Lock API, a setting) and a short vibration on press (where supported).

export class WakeLock {
  constructor() {
    this.want = false;
    this.lock = null;
    document.addEventListener('visibilitychange', () => this.sync());
  }

  // set turns the wish on or off; the lock is taken whenever the page is
  // visible (the browser drops it when the page is hidden).
  set(on) {
    this.want = on;
    this.sync();
  }

  async sync() {
    if (!('wakeLock' in navigator)) return;
    if (this.want && document.visibilityState === 'visible' && !this.lock) {
      try {
        this.lock = await navigator.wakeLock.request('screen');
        this.lock.addEventListener('release', () => { this.lock = null; });
      } catch { /* refused (battery saver, no user gesture yet): the screen may sleep */ }
    } else if (!this.want && this.lock) {
      const l = this.lock;
      this.lock = null;
      await l.release().catch(() => {});
    }
  }

  get held() { return !!this.lock; }
}

export function vibrate(on) {
  if (on && typeof navigator.vibrate === 'function') {
    try { navigator.vibrate(12); } catch { /* not allowed here */ }
  }
}

import { useSyncExternalStore } from "react";

/** A value React components read and re-render on. */
export class Cell<T> {
  private listeners = new Set<() => void>();
  constructor(private value: T) {}
  get = (): T => this.value;
  set(value: T): void {
    if (Object.is(value, this.value)) return;
    this.value = value;
    for (const listener of this.listeners) listener();
  }
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
}

export function useCell<T>(cell: Cell<T>): T {
  return useSyncExternalStore(cell.subscribe, cell.get);
}

/** One clock for every countdown on screen, ticking each second while something reads it. */
const clock = new Cell(Date.now());
let ticking: ReturnType<typeof setInterval> | null = null;
let readers = 0;
function subscribeClock(listener: () => void): () => void {
  const stop = clock.subscribe(listener);
  if (readers++ === 0) ticking = setInterval(() => clock.set(Date.now()), 1000);
  return () => {
    stop();
    if (--readers === 0 && ticking) clearInterval(ticking);
  };
}
export function useNow(): number {
  return useSyncExternalStore(subscribeClock, clock.get);
}

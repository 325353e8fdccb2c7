import { describe, expect, it } from 'vitest';
import { idealFifoMakespan, workLowerBound } from '../bench/schedule.js';

describe("the fleet benchmark's reference schedules", () => {
  it('gives each task, in order, to the machine that frees first', () => {
    // Two equal machines, tasks 3, 1, 1, 1: the first machine takes 3; the second takes 1, 1, 1.
    expect(idealFifoMakespan([3, 1, 1, 1], [0, 0, 0, 0], [1, 1])).toBe(3);
  });

  it('prefers the faster of two free machines, and scales run time by speed', () => {
    expect(idealFifoMakespan([10], [0], [2, 0.5])).toBe(5);
  });

  it('never starts a task before it arrives', () => {
    expect(idealFifoMakespan([1, 1], [0, 10], [1])).toBe(11);
  });

  it('bounds any schedule by total work over combined speed, and by the last arrival', () => {
    expect(workLowerBound([4, 4], [0, 0], [1, 1])).toBe(4);
    expect(workLowerBound([1], [20], [1, 1])).toBe(21);
  });
});

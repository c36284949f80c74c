/**
 * Reorder the first n values of `a` (n >= 1) so that a[n >> 1] is their median (quickselect),
 * and return that index. The caller reads the median from the array: a double returned from a
 * call V8 did not inline would be boxed, once per frame.
 */
export function selectMedian(a: Float64Array, n: number): number {
  const k = n >> 1;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return k;
}

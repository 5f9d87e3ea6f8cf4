// A row of the suite's table (and of the results JSON), shared by the sections in their own files.
export interface Row {
  /** The item (1–8). */
  item: string;
  figure: string;
  value: number | null;
  unit: string;
  target?: string;
  /** A ratio against the baseline named in `ratioOf`. */
  ratio?: number | null;
  ratioOf?: string;
  pass?: boolean | null;
  note?: string;
}

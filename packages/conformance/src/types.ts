/** The outcome of one conformance check: one fixture case compared with our implementation. */
export interface CheckResult {
  /** e.g. `forward/mmu`, `masks/t2i_cfg_rm_pad` */
  name: string;
  ok: boolean;
  /** what differed (or the measured error, when ok) */
  detail?: string;
}

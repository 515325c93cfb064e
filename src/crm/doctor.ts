// What `cosell doctor` prints, in the same shape for every CRM: one line per check, a fix on every failure.

export interface DoctorLine {
  ok: boolean;
  /** Which system the line is about, when a doctor run covers several (default: the CRM's). */
  system?: string;
  check: string;
  message: string;
  fix?: string;
}

export interface DoctorResult {
  ok: boolean;
  lines: DoctorLine[];
}

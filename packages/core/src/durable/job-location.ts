/** The path of a job's resource on its node's gateway (SPEC §8). */
export function jobLocation(id: string): string {
  return `/_rp/jobs/${id}`;
}

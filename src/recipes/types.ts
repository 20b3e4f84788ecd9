export interface Recipe {
  name: string;
  summary: string;
  versions: string;
  minors: string[];
  needsRebuild: boolean;
  notice?: string;
  patches: string[];
  build: {
    command: string[];
    env: Record<string, string>;
    tags: string[];
    needs: string[];
    /** The kubelet without `make generated_files`, for verified sources of the proven minors. */
    withoutGenerators?: { command: string[]; provenMinors: string[] };
  };
  image: {
    kubeCross?: { dockerfile: string; tag: string; registryMoves: Record<string, string> };
    fromTree: string[];
    goByMinor: Record<string, string>;
    reference: string;
  };
  evidence: {
    kmemEnablingCode: "absent";
    disabledMarker: "present" | "absent" | "any";
    disabledMarkerFrom?: string;
  };
  /** Set by the loader: the file it came from and the sha256 of its bytes. */
  file: string;
  sha256: string;
}

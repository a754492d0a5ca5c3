import type { StorageCaseGroup, StorageSuiteSettings } from '../storage-case.js';
import { checkpointStorageCases } from './checkpoint-storage.js';
import { completionCases } from './completion.js';
import { confinementCases } from './confinement.js';
import { deleteCases } from './delete.js';
import { emptyDirectoryCases } from './empty-directories.js';
import { incompleteCases } from './incomplete.js';
import { listingCases } from './listing.js';
import { rangeReadCases } from './range-reads.js';
import { roundTripCases } from './round-trips.js';
import { statCases } from './stat.js';

export { ESCAPING_PATHS } from './confinement.js';

/** Every group of the storage suite, in the order they run. Adding a case file means one line here. */
export function storageCaseGroups(settings: StorageSuiteSettings): readonly StorageCaseGroup[] {
  return [
    roundTripCases(settings),
    rangeReadCases(),
    statCases(),
    listingCases(settings),
    deleteCases(),
    emptyDirectoryCases(),
    completionCases(),
    confinementCases(),
    incompleteCases(),
    checkpointStorageCases(),
  ];
}

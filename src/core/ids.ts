// Job ids are UUIDv7: time-ordered (sortable by creation), unique without coordination.
import { v7 } from 'uuid';

export const newId = (): string => v7();

-- A sweep's schedule-free baseline runs (#16): 'baseline'; NULL for main paths and branches.
ALTER TABLE runs ADD COLUMN sweep_role TEXT;

DROP TABLE blind_index;
DROP TABLE key_rotations;
DROP TABLE org_keys;

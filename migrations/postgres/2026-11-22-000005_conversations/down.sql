DROP TABLE jobs;
DROP TABLE segments;
DROP TABLE conversations;

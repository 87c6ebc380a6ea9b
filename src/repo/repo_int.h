/*
 * repo_int.h — what an open repository is made of. Only src/repo/ includes
 * this (and white-box tests and fuzz harnesses that build a repository by
 * hand); everyone else uses repo.h: its accessors and the functions of the
 * repo/ headers.
 */
#ifndef COFFER_REPO_REPO_INT_H
#define COFFER_REPO_REPO_INT_H

#include "repo/lock.h"
#include "repo/repo.h"

struct dict_cache;

struct repo {
    struct store *store;
    bool is_store_owned; /* repo_free frees the store (repo_open's; not repo_open_store's) */
    struct repo_config config;
    struct master_key key;
    struct id_hasher *hasher;
    struct chunker stream_chunker;
    struct chunker file_chunker;
    struct chunker database_chunker;
    struct index *index;
    struct index *index_files_read; /* ids of the index and condemned files already in index */
    char **index_problems;          /* "index/<id>: why" for each file repo_load_index skipped */
    size_t index_problem_count;
    bool is_damage_read;            /* damage/ records applied (once, until repo_drop_index) */
    struct dict_cache *dicts;
    char key_name[80]; /* the keys/<id> object that opened it */
    struct repo_lock_wait lock_wait; /* how repo_lock waits for a conflicting lock */
};

#endif

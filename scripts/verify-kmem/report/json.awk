# json.awk (part of report.awk): the report as JSON (--json; schemas/verify-report.schema.json).

function json(   i, k, nt, ta, tags) {
  print "{"
  print "  \"schema_version\": 1,"
  print "  \"script_version\": " js(fact("version")) ","
  print "  \"timestamp\": " js(fact("timestamp")) ","
  print "  \"result\": " js(result) ","
  print "  \"exit_code\": " code ","
  print "  \"fix_state\": " js(FIX) ","
  print "  \"fix_summary\": " js(FIXSUM) ","
  print "  \"next_step\": " js(FIXNEXT) ","
  printf "  \"running_kubelet\": %s,\n", (RBY == "api" ? "{\"pid\": null, \"found_by\": \"api\", \"exe\": null, \"matches\": " js(RM) ", \"version\": " js(RAV) "}" : \
    fact("run_pid") == "" ? "null" : "{\"pid\": " jn(fact("run_pid")) ", \"found_by\": " js(fact("run_by")) ", \"exe\": " jsn(fact("run_exe")) ", \"matches\": " js(fact("run_match")) ", \"version\": null}")
  printf "  \"node\": {\"hostname\": %s, \"kernel\": %s, \"kernel_nokmem_param\": %s, \"kernel_charges_all_memcgs\": %s, ", \
    jsn(fact("hostname")), jsn(kernel), (nokmem ? "true" : "false"), jb(kall)
  printf "\"cgroup_layout\": %s, \"memory_controller\": %s, \"memory_root\": %s, \"cgroup_driver\": %s, \"kubepods\": [", \
    js(layout), jsn(memver), jsn(root), jsn(driver)
  for (i = 1; i <= NKP; i++) printf "%s%s", (i > 1 ? ", " : ""), js(KPP[i])
  print "]},"
  printf "  \"totals\": {\"pass\": %d, \"fail\": %d, \"warn\": %d, \"info\": %d},\n", TOT["PASS"], TOT["FAIL"], TOT["WARN"], TOT["INFO"]
  print "  \"checks\": ["
  for (i = 1; i <= NCK; i++)
    printf "    {\"id\": %s, \"title\": %s, \"status\": %s, \"seen\": %s, \"remedy\": %s, \"cause\": %s, \"conclusive\": %s}%s\n", \
      js(CID[i]), js(CTI[i]), js(CST[i]), js(CSE[i]), js(CRE[i]), jsn(CCA[i]), (CCO[i] ? "true" : "false"), (i < NCK ? "," : "")
  print "  ],"
  print "  \"cgroups\": ["
  for (i = 1; i <= NCG; i++)
    printf "    {\"level\": %s, \"qos\": %s, \"pod_uid\": %s, \"container\": %s, \"pod_namespace\": %s, \"pod_name\": %s, \"container_name\": %s, \"path\": %s, \"usage_bytes\": %s, \"total_rss_bytes\": %s, \"total_cache_bytes\": %s, \"kmem_usage_bytes\": %s, \"kmem_max_usage_bytes\": %s, \"kmem_failcnt\": %s, \"hidden_bytes\": %s, \"kmem_accounting\": %s, \"limit_bytes\": %s, \"usage_limit_ratio\": %s, \"rss_cache_limit_ratio\": %s}%s\n", \
      js(L[i]), js(Q[i]), js(U[i]), jsn(C[i]), jsn(RN[i]), jsn(RP[i]), jsn(RC[i]), js(P[i]), jn(US[i]), jn(RSSV[i]), jn(CA[i]), jn(KM[i]), jn(KX[i]), jn(KF[i]), jn(hidden(i)), js(ACT[i]), \
      jn(LIM[i]), ratio(UR[i]), ratio(DR[i]), (i < NCG ? "," : "")
  print "  ],"
  print "  \"binaries\": ["
  for (i = 1; i <= NB; i++) {
    tags = "null"
    if (BS[i] == "ok" && BT[i] != "") { nt = split(BT[i], ta, ","); tags = "["; for (k = 1; k <= nt; k++) tags = tags (k > 1 ? ", " : "") js(ta[k]); tags = tags "]" }
    printf "    {\"role\": %s, \"path\": %s, \"found_by\": %s, \"readable\": %s, \"verdict\": %s, \"build_tags\": %s, \"sha256\": %s, \"checksum_match\": %s, \"reused\": %s, \"version_mark\": %s}%s\n", \
      js(BR[i]), js(BP[i]), js(BF[i]), (BS[i] == "ok" ? "true" : "false"), jsn(BV[i]), tags, jsn(BH[i]), jsn(BM[i]), (BRU[i] ? "true" : "false"), jsn(BMK[i]), (i < NB ? "," : "")
  }
  print "  ],"
  printf "  \"memcgs\": {\"num_cgroups\": %s, \"directories\": %s, \"leaked\": %s, \"limit\": %d, \"compared\": %s},\n", \
    jn(numcg), jn(NDIRS), jn(leaked ""), LIMIT, (cmp ? "true" : "false")
  printf "  \"samples\": {\"count\": %d, \"duration_seconds\": %s, \"interval_seconds\": %s, \"max_kmem_bytes\": %s, \"max_at\": %s, \"max_path\": %s, \"nonzero_samples\": %d},\n", \
    NS, jn(dur), jn(itv), jn(SMAX == "" ? "0" : SMAX), jsn(SMAX + 0 > 0 ? SMAXAT : ""), jsn(SMAX + 0 > 0 ? SMAXP : ""), SNZ
  oomjson()
  print "}"
}

function oomjson(   i, u, c, rc) {
  printf "  \"kernel_log\": {\"source\": %s, \"path\": %s, \"lines\": %s, \"memcg_oom_kills\": %s, \"other_memcg_oom_kills\": %s, \"scope\": %s, \"outside_root_oom_kills\": %s, \"authenticated\": %s, ", \
    jsn(klsrc), jsn(fact("klpath")), (klsrc == "" ? "null" : jn(OLINES + 0)), (klsrc == "" ? "null" : jn(OKILLS + 0)), (klsrc == "" ? "null" : jn(OOTHER + 0)), \
    js(fact("oomscope")), (klsrc == "" ? "null" : jn(OOUT + 0)), (klsrc == "" ? "null" : (klauth ? "true" : "false"))
  printf "\"pod_oom_kills\": %s, \"pod_oom_kills_kmem_caused\": %s, \"pod_oom_kills_history\": %s, \"pod_oom_kills_not_listed\": %s, \"pod_oom_kills_list_limit\": %d},\n", \
    (klsrc == "" ? "null" : NOKALL + 0), (klsrc == "" ? "null" : OKALLKM + 0), (klsrc == "" ? "null" : OKALLH + 0), \
    (klsrc == "" ? "null" : NOKALL - NOK), OOM_KEEP
  print "  \"oom_kills\": ["
  for (i = 1; i <= NOK; i++) {
    u = OU[i]; c = OC[i]
    rc = (num(OKRSS[i]) && num(OKCA[i])) ? sprintf("%.0f", OKRSS[i] + OKCA[i]) : ""
    printf "    {\"time\": %s, \"memcg\": %s, \"task_memcg\": %s, \"level\": %s, \"qos\": %s, \"pod_uid\": %s, \"container\": %s, ", \
      jsn(OT[i]), js(OM[i]), jsn(OTM[i]), js(OL[i]), js(OQ[i]), js(u), jsn(c)
    wnames(u, c)
    printf "\"pod_namespace\": %s, \"pod_name\": %s, \"container_name\": %s, ", jsn(WN), jsn(WP), jsn(WC)
    printf "\"usage_bytes\": %s, \"limit_bytes\": %s, \"kmem_usage_bytes\": %s, \"rss_bytes\": %s, \"cache_bytes\": %s, \"hidden_bytes\": %s, \"kmem_share\": %s, \"kmem_caused\": %s, ", \
      jn(OUS[i]), jn(OLI[i]), jn(OKM[i]), jn(OKRSS[i]), jn(OKCA[i]), jn((num(OUS[i]) && rc != "") ? sprintf("%.0f", OUS[i] - rc) : ""), ratio(OSH[i]), (OKC[i] ? "true" : "false")
    printf "\"history\": %s, \"source\": %s, ", (OH[i] ? "true" : "false"), js(klsrc)
    printf "\"process\": {\"pid\": %s, \"name\": %s}}%s\n", jn(OPID[i]), jsn(OCM[i]), (i < NOK ? "," : "")
  }
  print "  ]"
}

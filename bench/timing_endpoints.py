#!/usr/bin/env python3
"""The latest-arriving register endpoints of a routed build, grouped into families.

nextpnr's log names one critical path; a build written by `pbit hdl build` also leaves
`out/report.json` (nextpnr's --report with --detailed-timing-report): every register input's
arrival time. This groups the endpoints by name (digits folded, so `d_11` and `d_62` are one
family `d_#`) and lists the families by their latest arrival, with how many endpoints of each
arrive later than a period.

    python3 bench/timing_endpoints.py out/report.json 12.8   # 12.8 ns: the period of 78 MHz
"""
import json,sys,collections,re
r=json.load(open(sys.argv[1]))
thr=float(sys.argv[2]) if len(sys.argv)>2 else 15
fam=collections.defaultdict(list)
for n in r['detailed_net_timings']:
    for e in n['endpoints']:
        d=max(e['delay']) if isinstance(e['delay'],list) else e['delay']
        c=e['cell'].replace('core.machine.core.','')
        c=re.sub(r'_TRELLIS_FF_Q.*','',c); c=re.sub(r'\$.*','',c)
        c=re.sub(r'\d+','#',c)
        fam[(c,e['port'])].append(d)
rows=sorted(((max(v),k,len(v),sum(x>thr for x in v)) for k,v in fam.items()),reverse=True)
for m,k,nn,over in rows[:50]:
    print('%6.2f %-50s %-5s n=%5d over%.1f=%d'%(m,k[0][:50],k[1],nn,thr,over))

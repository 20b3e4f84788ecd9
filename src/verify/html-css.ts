/** The HTML report's one stylesheet, inline in the page (its Content-Security-Policy allows inline style only). */
export const PAGE_CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#222;max-width:1200px}
h1{font-size:20px;margin:0 0 10px}h1 .summary{font-size:14px;font-weight:400;color:#444;margin-left:8px}
h3{font-size:14px;margin:14px 0 6px}
.badge{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;font-weight:600;color:#fff;background:#777;white-space:nowrap}
.badge.wrap{white-space:normal}
.ok{background:#2e7d32}.fail{background:#c62828}.warn{background:#ef6c00}.info{background:#1565c0}
.tiles{display:flex;flex-wrap:wrap;gap:8px;margin:0 0 10px}
.tile{color:#fff;border-radius:4px;padding:3px 9px;width:160px}
.tile .n{font-size:22px;font-weight:700}.tile .st{font-size:15px;font-weight:600}.tile .what{display:block;font-size:11px;opacity:.95}
table{border-collapse:collapse;width:100%;table-layout:fixed;font-size:13px}th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f3f3f3}table.checks .c-st{width:64px}table.checks .c-id{width:170px}table.checks .c-fix{width:30%}.cause{color:#666;font-size:12px}
.row{display:grid;grid-template-columns:44px 150px 92px 104px minmax(0,1fr) 150px 104px;border-bottom:1px solid #ddd;font-size:13px}
.row .c{padding:3px 6px;overflow-wrap:anywhere;min-width:0}.row.head{background:#f3f3f3;font-weight:600;border-top:1px solid #ddd}
summary.row{cursor:pointer;list-style:none}summary.row::-webkit-details-marker{display:none}summary.row:hover{background:#f7f9ff}
summary.row .rank{color:#777}summary.row .rank::before{content:"\\25B8  ";color:#444}details[open]>summary.row .rank::before{content:"\\25BE  "}
details[open]>summary.row{background:#eef3fb;border-bottom-color:#9ab}
.row .next.error{color:#777}
.mini{position:relative;display:flex;height:8px;background:#eee;border:1px solid #bbb;margin:4px 0 1px}.mini .seg{min-width:1px}
.row .kmem .v{font-size:12px}b.bad{color:#c62828}.unauth{display:block;font-size:11px;color:#e65100;font-weight:600}
.about{color:#555;font-size:12px;margin:10px 0}
.body{margin:4px 0 14px 40px}
.fix{margin:6px 0 2px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:0 12px;margin:6px 0;font-size:12px}dt{color:#666}dd{margin:0;overflow-wrap:anywhere}
details.checks>summary,details.more>summary{cursor:pointer;margin:6px 0}.ids{font-size:12px;color:#444}
.cg{margin:6px 0 8px}.cg-name{overflow-wrap:anywhere;font-size:13px}.path{color:#777;font-size:11px;overflow-wrap:anywhere}
.axis{position:relative;height:14px;font-size:11px;color:#555;border-bottom:1px solid #999;margin-top:4px}
.tick{position:absolute;bottom:0;transform:translateX(-50%);white-space:nowrap;padding-bottom:1px}.tick.first{transform:none}.tick.last{transform:translateX(-100%)}
.tick::after{content:"";position:absolute;left:50%;bottom:-4px;height:4px;border-left:1px solid #999}.tick.first::after{left:0}.tick.last::after{left:100%}
.bar{position:relative;display:flex;height:16px;background:#f4f4f4;border:1px solid #bbb;overflow:hidden;margin:2px 0}
.seg{display:inline-block;height:100%;flex:none}.bar .seg{min-width:1px}.seg.rss{background:#42a5f5}.seg.cache{background:#9ccc65}.seg.kmem{background:#e53935}
.mark{position:absolute;top:0;bottom:0;width:0;border-left:2px solid}.mark.dash{border-color:#0d47a1}.mark.oom{border-color:#000;border-left-style:dashed}.mark.limit{border-color:#6a1b9a;border-left-width:3px}
.legend{font-size:12px;color:#555}.legend .seg{width:12px;height:10px;margin:0 3px 0 10px}.legend .mark{position:static;display:inline-block;height:10px;margin:0 3px 0 10px}
.nums{font-size:12px;color:#333;display:flex;flex-wrap:wrap;gap:0 14px}.k-kmem b{color:#c62828}
table.ooms .c-time{width:150px}.c-ctr{width:110px}.c-proc{width:90px}.c-b{width:80px}.c-why{width:140px}
tr.kmem-caused{background:#ffebee}tr.kmem-unauth{background:#fff3e0}.none,.error,.note{color:#555;font-size:12px}
`;

export default function SectorPage() {
  return (
    <section className="panel empty-state" data-testid="sector-empty">
      <h2>섹터</h2>
      <p>미국 섹터 흐름과 연동된 한국 종목 추천은 섹터 단계가 들어오면 여기에 표시됩니다.</p>
    </section>
  );
}
